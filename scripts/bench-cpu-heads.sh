#!/usr/bin/env bash
# CPU table "per token versus per head" of docs/BENCHMARKS.md: h2o on the
# evaluation model at both granularities (budget 256, rolling on, -t 1).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-../shared/models/debtext-30m-q8_0.gguf}
bin/h2o bench -m "$model" -t 1 -p 512 -n 128 -d 0,2048 -r 3 --modes h2o --budgets 256 --granularity token,head
