# table: docs/BENCHMARKS.md, "The speed goals in one run" (depth over 512 steps)
# machine: GPU (the docs' numbers: one NVIDIA H200, CUDA_ARCH=90)
# h2o B = 2,048 at d4096 against d131072 over 512 steps, flash attention on:
# without rolling the deep context first, in its own command, then the
# shallow one; with rolling on read both in one command.
# Random-weight Llama-2-7B shape (speed only; kept when present).
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 512 -r 1 --fa on --budgets 2048 -d 131072 --rolling=false --modes h2o
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 512 -r 1 --fa on --budgets 2048 -d 4096 --rolling=false --modes h2o
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 512 -r 1 --fa on --budgets 2048 -d 4096,131072 --modes h2o
