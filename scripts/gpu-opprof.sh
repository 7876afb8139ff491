#!/usr/bin/env bash
# Where a batched decode step's time goes on a GPU machine: bench --profile-ops
# on the Llama-2-7B-shape Q4_0 model (random weights) for the layouts of
# scripts/gpu-batched.sh, with prompts just long enough to fill each cache.
# Each graph node runs alone and is waited for, so the per-node times add a
# launch and a sync each: compare nodes, not totals, with gpu-batched.sh.
# Needs bin/ with the CUDA backend built (scripts/gpu-build-check.sh).
# Usage: [MODES="h2o window full"] [N_H2O=160] [N_FULL=35] scripts/gpu-opprof.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/h2o-gpu}; mkdir -p "$out"
bash scripts/gpu-models.sh /tmp/models llama2-7b:q4_0 > /dev/null
model=/tmp/models/llama2-7b-q4_0.gguf
for mode in ${MODES:-h2o window full}; do
  case $mode in
    full) args=(--parallel "${N_FULL:-35}" -c 4096 -p 3072 -n 32) ;;
    *) args=(--parallel "${N_H2O:-160}" --budgets 819 -b "${CHUNK:-77}" --rolling=false -p 1024 -n 32) ;;
  esac
  timeout "${TMO:-300}" bin/h2o bench -m "$model" -ngl 99 --modes "$mode" "${args[@]}" --profile-ops \
    --note "random weights: speed only" 2>&1 | grep -v '^bench: .*steps' | tee "$out/opprof-$mode.md"
done
