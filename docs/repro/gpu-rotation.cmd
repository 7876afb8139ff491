# table: docs/BENCHMARKS.md, "Rolling with keys rotated on read (H200)" and "The RoPE launch of patch 0013 (H200)"
# machine: GPU (the docs' numbers: one NVIDIA H200, CUDA_ARCH=90)
# Random-weight Llama-2-7B shape (speed only; kept when present).
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 --verbose -d 32768 --modes full,h2o,window --rolling=false
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 --verbose -d 32768 --modes h2o,window --k-rotation in-place
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 --verbose -d 32768 --modes h2o,window
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 32 -r 1 --budgets 2048 --verbose -d 32768 --modes h2o -ctk q8_0
# depth: the full cache and h2o without rolling, then h2o rolling on read
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 --verbose -d 4096,131072 --modes full,h2o --rolling=false
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 --verbose -d 4096,131072 --modes h2o
# where a rolling step's time goes: every node timed alone (compare nodes, not totals)
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 2560 -n 16 -r 1 --budgets 2048 -b 512 --modes window --parallel 1 --profile-ops --rolling=false
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 2560 -n 16 -r 1 --budgets 2048 -b 512 --modes window --parallel 1 --profile-ops
