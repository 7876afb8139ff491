# table: docs/BENCHMARKS.md, "CPU: keys rotated on read versus in place"
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1)
bin/h2o bench -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 -p 512 -n 128 -d 0,2048 -r 3 --modes full,h2o,window,sink --budgets 256 --k-rotation in-place
bin/h2o bench -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 -p 512 -n 128 -d 0,2048 -r 3 --modes full,h2o,window,sink --budgets 256 --k-rotation on-read
