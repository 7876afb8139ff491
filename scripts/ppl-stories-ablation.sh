#!/usr/bin/env bash
# docs/QUALITY.md, tables "stories260K: h2o score rule and aggregation" and
# "stories260K: heavy-hitter share and position rolling".
# H2O variants on the twelve test stories at budgets 32 and 64 (7.5% and 15%
# of a story): --h2o-aggregate sum|layer-mean|max x --h2o-score cum|mean|ema:0.9,
# then the heavy-hitter share H/B and rolling on/off. About 2 minutes.
# Env: H2O (binary), SHARED (../shared), OUT (build/quality), THREADS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
H2O=${H2O:-bin/h2o} SHARED=${SHARED:-../shared} OUT=${OUT:-build/quality} THREADS=${THREADS:-1}
mkdir -p "$OUT"
"$H2O" ppl -m "$SHARED/models/stories260K.gguf" -t "$THREADS" \
	--policies full,h2o --budgets 32,64 \
	--h2o-aggregate sum,layer-mean,max --h2o-score cum,mean,ema:0.9 \
	--json-out "$OUT/ppl-stories-score.json" eval/testdata/stories | tee "$OUT/ppl-stories-score.md"
echo
"$H2O" ppl -m "$SHARED/models/stories260K.gguf" -t "$THREADS" \
	--policies full,h2o --budgets 32,64 --heavy-ratio 0.125,0.25,0.5,0.75 --rolling-both \
	--json-out "$OUT/ppl-stories-heavy.json" eval/testdata/stories | tee "$OUT/ppl-stories-heavy.md"
