# table: docs/BENCHMARKS.md, "CPU: cost of the score patch"
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1)
# The full cache with flash attention off, without and with score
# collection, then with flash attention on for reference.
bin/h2o bench -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 -p 512 -n 128 -d 0,2048 -r 3 --modes full -fa off
bin/h2o bench -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 -p 512 -n 128 -d 0,2048 -r 3 --modes full -fa off --scores
bin/h2o bench -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 -p 512 -n 128 -d 0,2048 -r 3 --modes full -fa on
