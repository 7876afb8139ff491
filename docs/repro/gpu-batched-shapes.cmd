# table: docs/BENCHMARKS.md, "Batched H2O on the 13B and Llama-3-8B shapes (H200)"
# machine: GPU (the docs' numbers: one NVIDIA H200, CUDA_ARCH=90)
# Steady-state decode at each mode's memory limit (--parallel auto) for a
# 2,048 + 2,048 run, as in the curve of the 7B shape: the full cache after a
# 3,072-token prompt in 4,096 cells a sequence, h2o B = 819 after 1,024 tokens;
# 64 steps. Random-weight models of real shapes (speed only; kept when present).
bin/h2o gguf random --preset llama2-13b --type q4_0 -o $MODELS/llama2-13b-q4_0.gguf
bin/h2o bench -m $MODELS/llama2-13b-q4_0.gguf -ngl 99 --modes full --parallel auto -c 4096 -p 3072 -n 64 --note "random weights: speed only"
bin/h2o bench -m $MODELS/llama2-13b-q4_0.gguf -ngl 99 --modes h2o --parallel auto --budgets 819 -b 77 --rolling=false -p 1024 -n 64 --note "random weights: speed only"
bin/h2o gguf random --preset llama3-8b --type q4_0 -o $MODELS/llama3-8b-q4_0.gguf
bin/h2o bench -m $MODELS/llama3-8b-q4_0.gguf -ngl 99 --modes full --parallel auto -c 4096 -p 3072 -n 64 --note "random weights: speed only"
bin/h2o bench -m $MODELS/llama3-8b-q4_0.gguf -ngl 99 --modes h2o --parallel auto --budgets 819 -b 77 --rolling=false -p 1024 -n 64 --note "random weights: speed only"
