#!/usr/bin/env bash
# docs/QUALITY.md, tables "debtext-30m: h2o score rule and aggregation" and
# "debtext-30m: heavy-hitter share and position rolling".
# H2O variants on the documents of scripts/ppl-debtext.sh at budgets 128 and
# 20% (410) of the 2,048 tokens: --h2o-aggregate sum|layer-mean|max x
# --h2o-score cum|mean|ema:0.9 (issues 4 and 9), then the heavy-hitter share
# H/B with rolling off and on. About 10 + 7 minutes on a shared 2-core CPU.
# Env: H2O (binary), SHARED (../shared), OUT (build/quality), THREADS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
H2O=${H2O:-bin/h2o} SHARED=${SHARED:-../shared} OUT=${OUT:-build/quality} THREADS=${THREADS:-1}
mkdir -p "$OUT"
common=(-m "$SHARED/models/debtext-30m-q8_0.gguf" -t "$THREADS" --docs 4 --min-tokens 2048 --max-tokens 2048)
"$H2O" ppl "${common[@]}" --policies full,h2o --budgets 128,20% \
	--h2o-aggregate sum,layer-mean,max --h2o-score cum,mean,ema:0.9 \
	--json-out "$OUT/ppl-debtext-score.json" "$SHARED/data/text/valid" | tee "$OUT/ppl-debtext-score.md"
echo
"$H2O" ppl "${common[@]}" --policies full,h2o --budgets 128,20% --heavy-ratio 0.125,0.25,0.5 --rolling-both \
	--json-out "$OUT/ppl-debtext-heavy.json" "$SHARED/data/text/valid" | tee "$OUT/ppl-debtext-heavy.md"
