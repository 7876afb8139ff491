# table: docs/BENCHMARKS.md, "The score op's column pass: row statistics from flash attention (H200)"
# machine: GPU (the docs' numbers: one NVIDIA H200, CUDA_ARCH=90)
# h2o against window at equal cells (B = 2,048: 2,304 cells), with and without
# rolling, in one build: flash attention gives the score op each row's softmax
# statistics, so that the op is one pass over the logits. Then rolling with a
# q8_0 K cache (the dequantizing copy of the K view), flash attention as auto
# chooses it and on.
# Random-weight Llama-2-7B shape (speed only; kept when present).
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 --verbose -d 32768 --modes h2o,window --rolling=false
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 --verbose -d 32768 --modes h2o,window
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 --verbose -d 32768 --modes h2o,window -ctk q8_0
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --budgets 2048 --verbose -d 32768 --modes h2o,window -ctk q8_0 --fa on
