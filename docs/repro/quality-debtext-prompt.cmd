# table: docs/QUALITY.md, "debtext-30m: the field's rules, prompt then decode"
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1; about 12 minutes)
bin/h2o ppl -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 \
  --docs 2 --min-tokens 1024 --max-tokens 1024 --prompt-tokens 512 \
  --policies full,window,sink,h2o,tova,knorm,keydiff --budgets 64,128,256,20%,512 \
  --prefill-score none,snapkv:32 \
  --json-out $OUT/ppl-debtext-prompt.json $SHARED/data/text/valid
