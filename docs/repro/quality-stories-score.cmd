# table: docs/QUALITY.md, "stories260K: h2o score rule, aggregation, heavy-hitter share, rolling", first table (score rule and aggregation)
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1; about a minute)
bin/h2o ppl -m $SHARED/models/stories260K.gguf -t 1 \
  --policies full,h2o --budgets 32,64 \
  --h2o-aggregate sum,layer-mean,max --h2o-score cum,mean,ema:0.9 \
  --json-out $OUT/ppl-stories-score.json eval/testdata/stories
