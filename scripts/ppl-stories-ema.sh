#!/usr/bin/env bash
# docs/QUALITY.md, table "stories260K: h2o with a decaying score, every budget".
# The setup of scripts/ppl-stories.sh with h2o scored by ema:0.9 and a
# heavy-hitter share of 1/4 or 1/2 of the budget, against window and sink.
# About a minute on a shared 2-core CPU.
# Env: H2O (binary), SHARED (../shared), OUT (build/quality), THREADS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
H2O=${H2O:-bin/h2o} SHARED=${SHARED:-../shared} OUT=${OUT:-build/quality} THREADS=${THREADS:-1}
mkdir -p "$OUT"
"$H2O" ppl -m "$SHARED/models/stories260K.gguf" -t "$THREADS" \
	--policies full,h2o,window,sink --budgets 16,32,64,20%,128 \
	--h2o-score ema:0.9 --heavy-ratio 0.25,0.5 \
	--json-out "$OUT/ppl-stories-ema.json" eval/testdata/stories | tee "$OUT/ppl-stories-ema.md"
