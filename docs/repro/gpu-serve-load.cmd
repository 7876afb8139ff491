# table: docs/BENCHMARKS.md, "Serving under load"
# machine: GPU (one NVIDIA H100/H200, CUDA_ARCH=90)
# h2o serve-bench: the server on 127.0.0.1, C clients each sending 2 streamed
# completions of a 1,024-token prompt + 256 generated tokens (EOS ignored), at
# C = 1..64 with 64 server sequences. The full cache gets 2,048 cells per
# sequence (the request's 1,280 tokens fit); H2O keeps 256 tokens (H = 128) in
# budget + chunk = 512 cells. Random weights: speed only.
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o serve-bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --mode full -c 2048 --parallel 64 --concurrency 1,2,4,8,16,32,64 --requests 2 -p 1024 -n 256 --input-path $SHARED/data/text/valid
bin/h2o serve-bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --mode h2o -B 256 --parallel 64 --concurrency 1,2,4,8,16,32,64 --requests 2 -p 1024 -n 256 --input-path $SHARED/data/text/valid
