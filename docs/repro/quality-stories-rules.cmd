# table: docs/QUALITY.md, "stories260K: the field's rules, streaming"
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1; about 2 minutes)
bin/h2o ppl -m $SHARED/models/stories260K.gguf -t 1 \
  --policies full,window,sink,h2o,tova,knorm,keydiff --budgets 64,128,256,20%,512 \
  --json-out $OUT/ppl-stories-rules.json eval/testdata/stories
