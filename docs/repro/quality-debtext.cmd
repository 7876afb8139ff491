# table: docs/QUALITY.md, "debtext-30m: perplexity by policy and budget (recipe settings)"
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1; about 8 to 20 minutes)
bin/h2o ppl -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 \
  --docs 4 --min-tokens 2048 --max-tokens 2048 \
  --policies full,h2o,window,sink --budgets 64,128,256,20%,512 \
  --json-out $OUT/ppl-debtext.json $SHARED/data/text/valid
