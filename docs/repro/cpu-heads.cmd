# table: docs/BENCHMARKS.md, "CPU: per token versus per head"
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1)
# h2o on the evaluation model at both granularities (budget 256, rolling on).
bin/h2o bench -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 -p 512 -n 128 -d 0,2048 -r 3 --modes h2o --budgets 256 --granularity token,head
