# table: docs/QUALITY.md, "debtext-30m: h2o score rule and aggregation (issues 4 and 9)"
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1; about 9 minutes)
bin/h2o ppl -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 \
  --docs 4 --min-tokens 2048 --max-tokens 2048 \
  --policies full,h2o --budgets 128,20% \
  --h2o-aggregate sum,layer-mean,max --h2o-score cum,mean,ema:0.9 \
  --json-out $OUT/ppl-debtext-score.json $SHARED/data/text/valid
