# table: docs/BENCHMARKS.md, "Per-head replacement in the decode graph"
# machine: GPU (the docs' numbers: one NVIDIA H200, CUDA_ARCH=90)
# Per-head eviction without rolling (the summarization recipe's setting),
# flash attention on: the decode graph replacing every head's token itself
# against the host deciding every step (--heads-on-host), per-token h2o and
# window at the same budget. The test binary is built on the build machine:
#   go test -c -o bin/tests/session.test ./session
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -d 4096,32768 -r 1 --fa on --rolling=false --modes h2o --budgets 2048 --granularity head,token
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -d 4096 -r 1 --fa on --rolling=false --modes h2o --budgets 2048 --granularity head --heads-on-host
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -d 4096,32768 -r 1 --fa on --rolling=false --modes window --budgets 2048
bin/test-ops -v
bin/tests/session.test -test.run 'PerHeadGraph|PerHeadGPU|HeadReplace' -test.v
