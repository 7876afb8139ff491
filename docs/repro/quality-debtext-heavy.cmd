# table: docs/QUALITY.md, "debtext-30m: heavy-hitter share and position rolling"
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1; about 7 minutes)
bin/h2o ppl -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 \
  --docs 4 --min-tokens 2048 --max-tokens 2048 \
  --policies full,h2o --budgets 128,20% --heavy-ratio 0.125,0.25,0.5 --rolling-both \
  --json-out $OUT/ppl-debtext-heavy.json $SHARED/data/text/valid
