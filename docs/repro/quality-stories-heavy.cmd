# table: docs/QUALITY.md, "stories260K: h2o score rule, aggregation, heavy-hitter share, rolling", second table (heavy-hitter share and rolling)
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1; under a minute)
bin/h2o ppl -m $SHARED/models/stories260K.gguf -t 1 \
  --policies full,h2o --budgets 32,64 --heavy-ratio 0.125,0.25,0.5,0.75 --rolling-both \
  --json-out $OUT/ppl-stories-heavy.json eval/testdata/stories
