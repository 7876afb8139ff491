# table: docs/BENCHMARKS.md, "The speed goals in one run"
# machine: GPU (the docs' numbers: one NVIDIA H200, CUDA_ARCH=90)
# Every speed goal of the H2O machinery from one build and one command:
# h2o against window at equal cells and per head against per token (no
# rolling, then rolling on read), and depth (d4096 against d131072, with and
# without rolling, and the full cache at d131072). Flash attention on, B =
# 2,048 (2,304 cells), 128 tokens after the context.
# Random-weight Llama-2-7B shape (speed only; kept when present).
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --fa on --budgets 2048 -d 32768 --rolling=false --modes h2o,window --granularity token,head
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --fa on --budgets 2048 -d 32768 --modes h2o,window --granularity token,head
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --fa on --budgets 2048 -d 4096,131072 --rolling=false --modes h2o
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --fa on --budgets 2048 -d 4096,131072 --modes h2o
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --fa on -d 131072 --modes full
