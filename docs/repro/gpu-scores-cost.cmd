# table: docs/BENCHMARKS.md, "Cost of the score patch"
# machine: GPU (the docs' numbers: one NVIDIA H100 80GB HBM3, CUDA_ARCH=90)
# The full cache with flash attention off, without and with score
# collection, then with flash attention on for reference. The docs' table
# ran before the per-layer score mode existed, with per-KV-head scores.
# Random-weight models of real shapes (speed only; kept when present).
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 512 -n 128 -d 0,2048 -r 3 --modes full -fa off
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 512 -n 128 -d 0,2048 -r 3 --modes full -fa off --scores
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 512 -n 128 -d 0,2048 -r 3 --modes full -fa on
