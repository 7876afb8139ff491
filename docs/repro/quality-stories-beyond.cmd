# table: docs/QUALITY.md, "stories260K past its trained context"
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1; about a minute)
bin/h2o ppl -m $SHARED/models/stories260K.gguf -t 1 \
  --beyond --concat --policies full,h2o,window,sink --budgets 64,256 --rolling-both \
  --json-out $OUT/ppl-stories-beyond.json eval/testdata/stories
