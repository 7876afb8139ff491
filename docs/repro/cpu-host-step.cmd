# table: docs/BENCHMARKS.md, "The host's share of a decode step"
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1)
# A model whose compute per step is small (the tiny shape, one layer) next to
# a full cache of 2,304 cells, so that the host's work per step shows: h2o
# and window with keys rotated on read (the GPU's default), with and without
# rolling, and the Batcher with 8 sequences. The instruction counts of the
# section come from the same commands under valgrind --tool=callgrind.
bin/h2o gguf random --preset tiny --layers 1 --ctx 8192 --type f16 -o $MODELS/tiny-1layer-f16.gguf
bin/h2o bench -m $MODELS/tiny-1layer-f16.gguf -t 1 -p 0 -n 512 -r 5 --budgets 2048 -d 2300 --fa on --k-rotation on-read --rolling=false --modes h2o,window
bin/h2o bench -m $MODELS/tiny-1layer-f16.gguf -t 1 -p 0 -n 512 -r 5 --budgets 2048 -d 2300 --fa on --k-rotation on-read --modes h2o,window
bin/h2o bench -m $MODELS/tiny-1layer-f16.gguf -t 1 -p 512 -n 128 -r 1 --budgets 256 --fa on --k-rotation on-read --parallel 8 --modes h2o
