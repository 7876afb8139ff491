# table: docs/BENCHMARKS.md, "Short generation"
# machine: GPU (the docs' numbers: one NVIDIA H100 80GB HBM3, CUDA_ARCH=90)
# Random-weight models of real shapes (speed only; kept when present).
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o run -m $SHARED/models/stories260K.gguf -ngl 99 -p "Once upon a time" -n 400 --num_window_length 64
bin/h2o run -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -n 256 --num_window_length 128
