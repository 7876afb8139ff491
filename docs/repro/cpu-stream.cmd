# table: docs/BENCHMARKS.md, "Streaming demo past the context", the CPU paragraph
# machine: CPU (the docs' numbers: 2-core x86-64)
# stories260K over all MT-Bench turns three times: h2o keeps the cache at
# 128 cells; the full cache stops when its 512 cells are full.
bin/h2o stream -m $SHARED/models/stories260K.gguf --input-path $SHARED/data/mt_bench/question.jsonl --mode h2o \
  --num_window_length 128 --num_heavy_hitter_tokens 64 --enable_position_rolling --loop 3 -q --json-stats $OUT/stream-h2o.jsonl
# exit: 1
bin/h2o stream -m $SHARED/models/stories260K.gguf --input-path $SHARED/data/mt_bench/question.jsonl --mode full -c 512 \
  --loop 3 -q --json-stats $OUT/stream-full.jsonl
