# table: docs/QUALITY.md, "stories260K: the field's rules, prompt then decode"
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1; about 3 minutes)
bin/h2o ppl -m $SHARED/models/stories260K.gguf -t 1 --prompt-tokens 192 \
  --policies full,window,sink,h2o,tova,knorm,keydiff --budgets 64,128,256,20%,512 \
  --prefill-score none,snapkv:32 \
  --json-out $OUT/ppl-stories-prompt.json eval/testdata/stories
