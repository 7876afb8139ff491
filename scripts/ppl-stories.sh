#!/usr/bin/env bash
# docs/QUALITY.md, table "stories260K: perplexity by policy and budget".
# The twelve short stories of eval/testdata/stories (about 430 tokens each,
# within the trained context of 512), each read from an empty cache, for
# every policy and budget. About a minute on a shared 2-core CPU.
# Env: H2O (binary), SHARED (../shared), OUT (build/quality), THREADS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
H2O=${H2O:-bin/h2o} SHARED=${SHARED:-../shared} OUT=${OUT:-build/quality} THREADS=${THREADS:-1}
mkdir -p "$OUT"
"$H2O" ppl -m "$SHARED/models/stories260K.gguf" -t "$THREADS" \
	--policies full,h2o,window,sink --budgets 16,32,64,20%,128,256,512 \
	--json-out "$OUT/ppl-stories.json" eval/testdata/stories | tee "$OUT/ppl-stories.md"
