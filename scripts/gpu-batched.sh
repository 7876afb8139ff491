#!/usr/bin/env bash
# Batched throughput on a GPU machine (docs/BENCHMARKS.md, "Batched H2O"):
# Llama-2-7B-shape Q4_0 (random weights), N sequences of prompt 2048 +
# generation 2048, full cache versus H2O at B = 20% of the sequence (819
# tokens; prefill chunk CHUNK, default 77, so a sequence's stream is exactly
# 896 cells; CHUNK=205 gives 1024),
# each at the largest N the memory plan fits (--parallel auto) and at smaller N.
# Needs bin/ with the CUDA backend built (scripts/gpu-build-check.sh).
# Usage: [MODES="h2o full"] [TMO=seconds per mode] [PROF=1] scripts/gpu-batched.sh [N list, default auto]
# PROF=1 writes a Go CPU profile of each mode to $OUT/batched-MODE.pprof.
# Logs to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/h2o-gpu}; mkdir -p "$out"
np=${1:-auto}
bash scripts/gpu-models.sh /tmp/models llama2-7b:q4_0 > /dev/null
model=/tmp/models/llama2-7b-q4_0.gguf
for mode in ${MODES:-full h2o}; do
  extra=()
  [ "$mode" = h2o ] && extra=(--budgets 819 -b "${CHUNK:-77}" --rolling=false)
  prof=()
  [ -n "${PROF:-}" ] && prof=(--cpuprofile "$out/batched-$mode.pprof")
  timeout "${TMO:-560}" bin/h2o "${prof[@]}" bench -m "$model" -ngl 99 --parallel "$np" -p 2048 -n 2048 --modes "$mode" "${extra[@]}" \
    --note "random weights: speed only" 2>&1 | tee "$out/batched-$mode.md"
done
