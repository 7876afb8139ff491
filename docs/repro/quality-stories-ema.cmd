# table: docs/QUALITY.md, "stories260K: h2o with a decaying score, every budget"
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1; under a minute)
bin/h2o ppl -m $SHARED/models/stories260K.gguf -t 1 \
  --policies full,h2o,window,sink --budgets 16,32,64,20%,128 \
  --h2o-score ema:0.9 --heavy-ratio 0.25,0.5 \
  --json-out $OUT/ppl-stories-ema.json eval/testdata/stories
