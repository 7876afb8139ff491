# table: docs/QUALITY.md, "debtext-30m: per-token versus per-head eviction (granularity)", first table
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1; about 20 minutes)
bin/h2o ppl -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 \
  --docs 4 --min-tokens 2048 --max-tokens 2048 \
  --policies full,h2o,window,sink --budgets 64,128,256,512 \
  --h2o-score cum,ema:0.9 --heavy-ratio 0.25,0.5 --granularity token,head \
  --json-out $OUT/ppl-granularity.json $SHARED/data/text/valid
