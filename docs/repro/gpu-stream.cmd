# table: docs/BENCHMARKS.md, "Streaming demo past the context: full cache versus H2O"
# machine: GPU (the docs' numbers: one NVIDIA H100 80GB HBM3, CUDA_ARCH=90)
# All 160 MT-Bench turns as one conversation, 32 new tokens per turn, three
# times: h2o keeps speed and memory flat; the full cache slows as it fills,
# then stops with a message and exit status 1. The table's speeds come from
# the per-sample JSON lines.
# Random-weight models of real shapes (speed only; kept when present).
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o stream -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --input-path $SHARED/data/mt_bench/question.jsonl --mode h2o --enable_h2o_generation \
  --num_heavy_hitter_tokens 128 --num_window_length 256 --enable_position_rolling --max-gen-len 32 --loop 3 -q --json-stats $OUT/stream-h2o.jsonl
# exit: 1
bin/h2o stream -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --input-path $SHARED/data/mt_bench/question.jsonl --mode full -c 32768 --max-gen-len 32 --loop 3 -q --json-stats $OUT/stream-full.jsonl
