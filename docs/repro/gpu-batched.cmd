# table: docs/BENCHMARKS.md, "Batched H2O: many sequences on one GPU" (H100) and "Batched H2O at 2,048 + 2,048: Q4_0 and F16 weights (H200)"
# machine: GPU (the docs' numbers: one NVIDIA H100 80GB HBM3, then one NVIDIA H200; CUDA_ARCH=90)
# N sequences of prompt 2048 + generation 2048 at the largest N the memory
# plan fits (--parallel auto): the full cache, then H2O at B = 20% of the
# sequence (819 tokens) with prefill chunks of 77, so that a sequence's
# stream is exactly 896 cells (-b 205 gives 1024). A Go CPU profile: add
# --cpuprofile FILE before "bench".
# Random-weight models of real shapes (speed only; kept when present).
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --parallel auto -p 2048 -n 2048 --modes full --note "random weights: speed only"
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --parallel auto -p 2048 -n 2048 --modes h2o --budgets 819 -b 77 --rolling=false --note "random weights: speed only"
