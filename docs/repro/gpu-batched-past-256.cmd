# table: docs/BENCHMARKS.md, "Batched H2O past 256 sequences"
# machine: GPU (one NVIDIA H200, CUDA_ARCH=90)
# --parallel auto past llama.cpp's old limit of 256 sequences: H2O at B = 819
# with prompt chunks of 77 (896 cells a sequence), then the full cache, each
# sequence a prompt of 2,048 and 256 generated tokens.
# Random-weight Llama-2-7B shape (speed only; kept when present).
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --parallel auto -p 2048 -n 256 --modes h2o --budgets 819 -b 77 --rolling=false --note "random weights: speed only"
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --parallel auto -p 2048 -n 256 --modes full --note "random weights: speed only"
