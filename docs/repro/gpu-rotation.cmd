# table: docs/BENCHMARKS.md, "Rolling with keys rotated on read (H200)"
# machine: GPU (the docs' numbers: one NVIDIA H200, CUDA_ARCH=90)
# Random-weight Llama-2-7B shape (speed only; kept when present).
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 -d 32768 --modes full,h2o,window --rolling=false
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 -d 32768 --modes h2o,window --k-rotation in-place
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 -d 32768 --modes h2o,window
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 -d 32768 --modes h2o -ctk q8_0
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 -d 131072 --modes h2o
