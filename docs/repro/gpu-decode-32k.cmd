# table: docs/BENCHMARKS.md, "Decode at 32k context: full cache versus H2O"
# machine: GPU (the docs' numbers: one NVIDIA H100 80GB HBM3, CUDA_ARCH=90)
# Random-weight models of real shapes (speed only; kept when present).
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o gguf random --preset llama3-8b --type q4_0 -o $MODELS/llama3-8b-q4_0.gguf
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -d 32768 -r 1 --budgets 2048 --modes full,h2o,window --rolling=false
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -d 32768 -r 1 --budgets 2048 --modes h2o --rolling=true
bin/h2o bench -m $MODELS/llama3-8b-q4_0.gguf -ngl 99 -p 0 -n 128 -d 32768 -r 1 --budgets 2048 --modes full,h2o --rolling=false
