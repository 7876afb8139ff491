# table: docs/BENCHMARKS.md, "Batched H2O at 2,048 + 2,048: where a step's time goes (H200)"
# machine: GPU (the docs' numbers: one NVIDIA H200, CUDA_ARCH=90)
# bench --profile-ops at the sequence counts --parallel auto plans on the H200
# for 2,048 + 2,048 (gpu-batched.cmd: h2o 291, full 63), prompts just long
# enough to fill H2O's cache and the full cache's mean length. Every node
# runs alone and is waited for: compare nodes, not totals.
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --modes h2o --parallel 291 --budgets 819 -b 77 --rolling=false -p 1024 -n 16 --profile-ops --note "random weights: speed only"
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --modes full --parallel 63 -c 4096 -p 3072 -n 16 --profile-ops --note "random weights: speed only"
# F16 weights (gpu-batched-f16.cmd: h2o 272, full 59)
bin/h2o gguf random --preset llama2-7b --type f16 -o $MODELS/llama2-7b-f16.gguf
bin/h2o bench -m $MODELS/llama2-7b-f16.gguf -ngl 99 --modes h2o --parallel 272 --budgets 819 -b 77 --rolling=false -p 1024 -n 16 --profile-ops --note "random weights: speed only"
bin/h2o bench -m $MODELS/llama2-7b-f16.gguf -ngl 99 --modes full --parallel 59 -c 4096 -p 3072 -n 16 --profile-ops --note "random weights: speed only"
