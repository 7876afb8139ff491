# table: docs/BENCHMARKS.md, "Column pass by rows, key rotation by frequencies"
# machine: GPU (the docs' numbers: one NVIDIA H200, CUDA_ARCH=90)
# h2o against window at equal cells, with and without rolling, three
# repetitions each (tg128 @ d32768, flash attention on, B = 2,048, 2,304
# cells); per head without rolling; depth (d4096 against d131072, with and
# without rolling) and the full cache at d131072. The "before" columns of
# the section were built from the previous kernels of patches 0003 and 0014
# swapped into build/llama-src and `make cuda` run again (see the section).
# Random-weight Llama-2-7B shape (speed only; kept when present).
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 3 --fa on --budgets 2048 -d 32768 --rolling=false --modes h2o,window
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 3 --fa on --budgets 2048 -d 32768 --modes h2o,window
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --fa on --budgets 2048 -d 32768 --rolling=false --modes h2o --granularity head
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --fa on --budgets 2048 -d 4096,131072 --rolling=false --modes h2o
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --fa on --budgets 2048 -d 4096,131072 --modes h2o
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --fa on -d 131072 --modes full
