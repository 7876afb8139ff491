# table: docs/BENCHMARKS.md, "Per head with rolling in the decode graph"
# machine: GPU (the docs' numbers: one NVIDIA H200, CUDA_ARCH=90)
# Per-head eviction with position rolling, flash attention on: the decode
# graph replacing every head's token and rotating each head's keys to their
# ranks as attention reads them (f16 keys) against the host deciding every
# step and re-rotating the keys in place (--heads-on-host, f32 keys, the
# previous path); per token at the same budget, with and without rolling;
# depth. Then the CUDA checks (the backend test of the ops, the session's
# GPU tests) and the rolling perplexity of the quality table, per head on
# the GPU. The test binary is built on the build machine:
#   go test -c -o bin/tests/session.test ./session
bin/test-ops -v
bin/tests/session.test -test.run 'PerHeadGraph|PerHeadGPU|HeadReplace' -test.v
# Random-weight Llama-2-7B shape (speed only; kept when present).
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --fa on --budgets 2048 -d 32768 --modes h2o --granularity head --heads-on-host
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 3 --fa on --budgets 2048 -d 32768 --modes h2o,window --granularity token,head
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 3 --fa on --budgets 2048 -d 32768 --rolling=false --modes h2o,window --granularity token,head
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -r 1 --fa on --budgets 2048 -d 4096,131072 --modes h2o --granularity head
bin/h2o ppl -m $SHARED/models/debtext-30m-q8_0.gguf -ngl 99 --docs 4 --min-tokens 2048 --max-tokens 2048 \
  --fa on --policies full,h2o --budgets 128,512 --enable_position_rolling --h2o-score cum --heavy-ratio 0.5 \
  --granularity token,head --json-out $OUT/ppl-heads-rolling-gpu.json $SHARED/data/text/valid
