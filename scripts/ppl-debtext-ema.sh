#!/usr/bin/env bash
# docs/QUALITY.md, table "debtext-30m: h2o with a decaying score, every budget".
# The setup of scripts/ppl-debtext.sh with the h2o settings the ablation
# favours: score ema:0.9 (instead of the recipe's cumulative sum) and a
# heavy-hitter share of 1/4 or 1/2 of the budget, against window and sink.
# About 11 minutes on a shared 2-core CPU.
# Env: H2O (binary), SHARED (../shared), OUT (build/quality), THREADS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
H2O=${H2O:-bin/h2o} SHARED=${SHARED:-../shared} OUT=${OUT:-build/quality} THREADS=${THREADS:-1}
mkdir -p "$OUT"
"$H2O" ppl -m "$SHARED/models/debtext-30m-q8_0.gguf" -t "$THREADS" \
	--docs 4 --min-tokens 2048 --max-tokens 2048 \
	--policies full,h2o,window,sink --budgets 64,128,256,20%,512 \
	--h2o-score ema:0.9 --heavy-ratio 0.25,0.5 \
	--json-out "$OUT/ppl-debtext-ema.json" "$SHARED/data/text/valid" | tee "$OUT/ppl-debtext-ema.md"
