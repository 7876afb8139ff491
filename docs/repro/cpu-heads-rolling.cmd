# table: docs/BENCHMARKS.md, "Per head with rolling in the decode graph", the CPU check
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1)
# Per-head rolling on the evaluation model, one held-out document of 2,048
# tokens, B = 512: the host's steps (the CPU default: f32 keys re-rotated in
# place, flash attention off) against the decode graph's (flash attention
# on, f16 keys rotated on read by their shifts).
bin/h2o ppl -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 --docs 1 --min-tokens 2048 --max-tokens 2048 \
  --policies h2o --budgets 512 --enable_position_rolling --h2o-score cum --heavy-ratio 0.5 --granularity head \
  $SHARED/data/text/valid
bin/h2o ppl -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 --docs 1 --min-tokens 2048 --max-tokens 2048 \
  --policies h2o --budgets 512 --enable_position_rolling --h2o-score cum --heavy-ratio 0.5 --granularity head \
  --fa on -ctk f16 $SHARED/data/text/valid
# stories260K (trained context 512) over 4 documents of 2,048 tokens: four
# times past its context, B = 128.
bin/h2o ppl -m $SHARED/models/stories260K.gguf -t 1 --docs 4 --min-tokens 2048 --max-tokens 2048 \
  --policies h2o --budgets 128 --enable_position_rolling --h2o-score cum --heavy-ratio 0.5 --granularity head \
  $SHARED/data/text/valid
bin/h2o ppl -m $SHARED/models/stories260K.gguf -t 1 --docs 4 --min-tokens 2048 --max-tokens 2048 \
  --policies h2o --budgets 128 --enable_position_rolling --h2o-score cum --heavy-ratio 0.5 --granularity head \
  --fa on -ctk f16 $SHARED/data/text/valid
