# table: docs/BENCHMARKS.md, "Per token versus per head"
# machine: GPU (the docs' numbers: one NVIDIA H100 80GB HBM3, CUDA_ARCH=90)
# h2o per token and per head (budget 2048), rolling on, then without
# rolling (the summarization recipe's setting) for the last row.
# Random-weight models of real shapes (speed only; kept when present).
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 512 -n 128 -d 0,4096 -r 1 --modes h2o --budgets 2048 --granularity token,head
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -d 4096 -r 1 --modes h2o --budgets 2048 --granularity token,head --rolling=false
