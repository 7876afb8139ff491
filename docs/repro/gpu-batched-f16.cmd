# table: docs/BENCHMARKS.md, "Batched H2O at 2,048 + 2,048: Q4_0 and F16 weights (H200)"
# machine: GPU (one NVIDIA H200, CUDA_ARCH=90)
# The paper's precision: F16 weights (llama.cpp's matrix products then run
# through cuBLAS), N sequences of prompt 2048 + generation 2048 at the largest
# N the memory plan fits: the full cache, then H2O at B = 20% (819) with
# prompt chunks of 77 (896 cells a sequence). The Q4_0 side is gpu-batched.cmd.
# Random-weight Llama-2-7B shape (speed only; kept when present).
bin/h2o gguf random --preset llama2-7b --type f16 -o $MODELS/llama2-7b-f16.gguf
bin/h2o bench -m $MODELS/llama2-7b-f16.gguf -ngl 99 --parallel auto -p 2048 -n 2048 --modes full --note "random weights: speed only"
bin/h2o bench -m $MODELS/llama2-7b-f16.gguf -ngl 99 --parallel auto -p 2048 -n 2048 --modes h2o --budgets 819 -b 77 --rolling=false --note "random weights: speed only"
