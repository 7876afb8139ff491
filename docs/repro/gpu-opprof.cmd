# table: docs/BENCHMARKS.md, "Batched H2O: many sequences on one GPU", "Where a step's time goes"
# machine: GPU (the docs' numbers: one NVIDIA H100 80GB HBM3, CUDA_ARCH=90)
# bench --profile-ops for the layouts of gpu-batched.cmd, with prompts just
# long enough to fill each cache. Each graph node runs alone and is waited
# for, so every node time carries a launch and a sync: compare nodes, not
# totals, with gpu-batched.cmd.
# Random-weight models of real shapes (speed only; kept when present).
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --modes h2o --parallel 160 --budgets 819 -b 77 --rolling=false -p 1024 -n 32 --profile-ops --note "random weights: speed only"
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --modes window --parallel 160 --budgets 819 -b 77 --rolling=false -p 1024 -n 32 --profile-ops --note "random weights: speed only"
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 --modes full --parallel 35 -c 4096 -p 3072 -n 32 --profile-ops --note "random weights: speed only"
