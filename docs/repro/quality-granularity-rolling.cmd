# table: docs/QUALITY.md, "debtext-30m: per-token versus per-head eviction (granularity)", third table (with rolling)
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1; about 7 minutes)
# Per-head rolling re-rotates each head's keys by its own deltas.
bin/h2o ppl -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 \
  --docs 4 --min-tokens 2048 --max-tokens 2048 \
  --policies full,h2o --budgets 128,512 --enable_position_rolling \
  --h2o-score cum,ema:0.9 --heavy-ratio 0.5 --granularity token,head \
  --json-out $OUT/ppl-granularity-rolling.json $SHARED/data/text/valid
