#!/usr/bin/env bash
# docs/QUALITY.md, table "stories260K past its trained context".
# The twelve test stories joined into one text of about 5,200 tokens, ten
# times the trained context of 512, read in one stream: perplexity per
# window of 512 tokens for the full cache (positions past 512) and for the
# evicting policies with and without position rolling. About 2 minutes.
# Env: H2O (binary), SHARED (../shared), OUT (build/quality), THREADS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
H2O=${H2O:-bin/h2o} SHARED=${SHARED:-../shared} OUT=${OUT:-build/quality} THREADS=${THREADS:-1}
mkdir -p "$OUT"
"$H2O" ppl -m "$SHARED/models/stories260K.gguf" -t "$THREADS" \
	--beyond --concat --policies full,h2o,window,sink --budgets 64,256 --rolling-both \
	--json-out "$OUT/ppl-stories-beyond.json" eval/testdata/stories | tee "$OUT/ppl-stories-beyond.md"
