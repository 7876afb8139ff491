# table: docs/BENCHMARKS.md, "Batched H2O", the CPU paragraph
# machine: CPU (the docs' numbers: 2-core x86-64)
# The batcher against one sequence on the tiny model.
bin/h2o bench -m $SHARED/models/stories260K.gguf -t 1 --parallel 1,4,auto -p 64 -n 64 --budgets 32 -b 32
