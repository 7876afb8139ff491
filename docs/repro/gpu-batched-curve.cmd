# table: docs/BENCHMARKS.md, "Batched H2O: decode throughput against the number of sequences (H200)"
# machine: GPU (the docs' numbers: one NVIDIA H200, CUDA_ARCH=90)
# Steady-state decode at the cache fill of a 2,048 + 2,048 run's middle: h2o
# B = 819 after a 1,024-token prompt, the full cache after 3,072; 64 steps.
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --modes h2o --parallel 32 --budgets 819 -b 77 --rolling=false -p 1024 -n 64 --note "random weights: speed only"
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --modes h2o --parallel 96 --budgets 819 -b 77 --rolling=false -p 1024 -n 64 --note "random weights: speed only"
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --modes h2o --parallel 192 --budgets 819 -b 77 --rolling=false -p 1024 -n 64 --note "random weights: speed only"
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --modes h2o --parallel 291 --budgets 819 -b 77 --rolling=false -p 1024 -n 64 --note "random weights: speed only"
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --modes full --parallel 16 -c 4096 -p 3072 -n 64 --note "random weights: speed only"
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --modes full --parallel 32 -c 4096 -p 3072 -n 64 --note "random weights: speed only"
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --modes full --parallel 63 -c 4096 -p 3072 -n 64 --note "random weights: speed only"
