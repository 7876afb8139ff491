# table: docs/BENCHMARKS.md, "Flash attention rotates the keys it reads: patch 0014 (H200)"
# machine: GPU (the docs' numbers: one NVIDIA H200, CUDA_ARCH=90)
# Both sides in one file and one build: GGML_CUDA_DISABLE_FUSION=1 turns off
# ggml-cuda's fusions, patch 0014's with them, so the "off" rows rotate the
# keys with a RoPE pass (patch 0013's launch) before flash attention. The
# no-rolling rows under both settings show what the other fusions are worth.
# Random-weight Llama-2-7B shape (speed only; kept when present).
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
env GGML_CUDA_DISABLE_FUSION=1 bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 --verbose -d 32768 --modes h2o,window --rolling=false
env GGML_CUDA_DISABLE_FUSION=1 bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 --verbose -d 32768 --modes h2o,window
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 --verbose -d 32768 --modes full,h2o,window --rolling=false
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 --verbose -d 32768 --modes h2o,window
# depth with rolling on read
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 --verbose -d 4096,131072 --modes h2o
# where a rolling step's time goes now (every node timed alone: compare nodes, not totals)
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 2560 -n 16 -r 1 --budgets 2048 -b 512 --modes window --parallel 1 --profile-ops
# CUDA graphs' share with rolling on read: the same row without them
env GGML_CUDA_DISABLE_GRAPHS=1 bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 --verbose -d 32768 --modes window
env GGML_CUDA_DISABLE_GRAPHS=1 bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 --verbose -d 32768 --modes window --rolling=false
