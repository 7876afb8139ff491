#!/usr/bin/env bash
# docs/QUALITY.md, table "debtext-30m: perplexity by policy and budget".
# Perplexity, KL and top-1 agreement with the full cache of the evaluation
# model on the first 4 validation documents of at least 2,048 tokens, each
# cut at 2,048 tokens (the trained context), for every policy and budget.
# About 20 minutes on a shared 2-core CPU (-t 1; -t 2 is much slower there).
# Env: H2O (binary), SHARED (../shared), OUT (build/quality), THREADS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
H2O=${H2O:-bin/h2o} SHARED=${SHARED:-../shared} OUT=${OUT:-build/quality} THREADS=${THREADS:-1}
mkdir -p "$OUT"
"$H2O" ppl -m "$SHARED/models/debtext-30m-q8_0.gguf" -t "$THREADS" \
	--docs 4 --min-tokens 2048 --max-tokens 2048 \
	--policies full,h2o,window,sink --budgets 64,128,256,20%,512 \
	--json-out "$OUT/ppl-debtext.json" "$SHARED/data/text/valid" | tee "$OUT/ppl-debtext.md"
