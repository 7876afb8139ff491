# table: docs/QUALITY.md, "debtext-30m: per-token versus per-head eviction (granularity)", second table (the other score rules, mean and last)
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1; about 17 minutes)
bin/h2o ppl -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 \
  --docs 4 --min-tokens 2048 --max-tokens 2048 \
  --policies full,h2o --budgets 64,128,256,512 \
  --h2o-score mean,last --heavy-ratio 0.25,0.5 --granularity token,head \
  --json-out $OUT/ppl-granularity-rules.json $SHARED/data/text/valid
