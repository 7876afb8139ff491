# table: docs/BENCHMARKS.md, "The speed goals in one run" (CUDA graphs' share and the depth repeat)
# machine: GPU (the docs' numbers: one NVIDIA H200, CUDA_ARCH=90)
# Per head with and without CUDA graphs (GGML_CUDA_DISABLE_GRAPHS=1), deciding
# in the decode graph and on the host (--heads-on-host: a batch of row moves
# between two decodes), no rolling, flash attention on, B = 2,048; then the
# depth rows without rolling again.
# Random-weight Llama-2-7B shape (speed only; kept when present).
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --fa on --budgets 2048 -d 4096 --rolling=false --modes h2o --granularity head,token
env GGML_CUDA_DISABLE_GRAPHS=1 bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --fa on --budgets 2048 -d 4096 --rolling=false --modes h2o --granularity head,token
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --fa on --budgets 2048 -d 4096 --rolling=false --modes h2o --granularity head --heads-on-host
env GGML_CUDA_DISABLE_GRAPHS=1 bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --fa on --budgets 2048 -d 4096 --rolling=false --modes h2o --granularity head --heads-on-host
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --fa on --budgets 2048 -d 4096,131072 --rolling=false --modes h2o
