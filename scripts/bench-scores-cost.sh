#!/usr/bin/env bash
# Cost of the attention-score collection (patch 0001): the same full-cache
# runs with flash attention off, without and with scores, and with flash
# attention on for reference. Usage: scripts/bench-scores-cost.sh MODEL [NGL] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?model}; ngl=${2:-0}; reps=${3:-3}
common=(-m "$model" -ngl "$ngl" -p 512 -n 128 -d 0,2048 -r "$reps" --modes full)
bin/h2o bench "${common[@]}" -fa off
bin/h2o bench "${common[@]}" -fa off --scores
bin/h2o bench "${common[@]}" -fa on
