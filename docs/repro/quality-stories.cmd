# table: docs/QUALITY.md, "stories260K: perplexity by policy and budget (recipe settings)"
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1; about a minute)
bin/h2o ppl -m $SHARED/models/stories260K.gguf -t 1 \
  --policies full,h2o,window,sink --budgets 16,32,64,20%,128,256,512 \
  --json-out $OUT/ppl-stories.json eval/testdata/stories
