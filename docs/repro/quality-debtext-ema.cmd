# table: docs/QUALITY.md, "debtext-30m: h2o with a decaying score, every budget"
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1; about 9 to 11 minutes)
bin/h2o ppl -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 \
  --docs 4 --min-tokens 2048 --max-tokens 2048 \
  --policies full,h2o,window,sink --budgets 64,128,256,20%,512 \
  --h2o-score ema:0.9 --heavy-ratio 0.25,0.5 \
  --json-out $OUT/ppl-debtext-ema.json $SHARED/data/text/valid
