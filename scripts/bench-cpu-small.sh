#!/usr/bin/env bash
# CPU table of docs/BENCHMARKS.md: every policy on the evaluation model.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-../shared/models/debtext-30m-q8_0.gguf}
bin/h2o bench -m "$model" -t 1 -p 512 -n 128 -d 0,2048 -r 3 --modes full,h2o,window,sink --budgets 256
