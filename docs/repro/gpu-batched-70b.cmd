# table: docs/BENCHMARKS.md, "Batched H2O on the 70B shape (H200)"
# machine: GPU (the docs' numbers: one NVIDIA H200, CUDA_ARCH=90)
# Steady-state decode at each mode's memory limit (--parallel auto) for a
# 2,048 + 2,048 run, measured like the 13B and Llama-3-8B shapes: the full
# cache after a 3,072-token prompt in 4,096 cells a sequence, h2o B = 819 after
# 819 tokens (the budget: the same steady state as after 1,024); 16 steps
# (the prompts of a 70B shape take most of the time).
# Random-weight Llama-2-70B shape, Q4_0 (about 38 GB; speed only; kept when present).
bin/h2o gguf random --preset llama2-70b --type q4_0 -o $MODELS/llama2-70b-q4_0.gguf
bin/h2o bench -m $MODELS/llama2-70b-q4_0.gguf -ngl 99 --modes full --parallel auto -c 4096 -p 3072 -n 16 --note "random weights: speed only"
bin/h2o bench -m $MODELS/llama2-70b-q4_0.gguf -ngl 99 --modes h2o --parallel auto --budgets 819 -b 77 --rolling=false -p 819 -n 16 --note "random weights: speed only"
