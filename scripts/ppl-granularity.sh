#!/usr/bin/env bash
# docs/QUALITY.md, table "debtext-30m: per-token versus per-head eviction".
# The setup of scripts/ppl-debtext.sh (4 documents of 2,048 tokens, no
# rolling) at budgets 64/128/256/512: h2o with the recipe's cumulative score
# and with ema:0.9, heavy-hitter shares 1/4 and 1/2 (recent shares 3/4 and
# 1/2), each per token and per head (--granularity token,head), against
# window and sink. 41 sessions, about 20 minutes on a shared 2-core CPU; then
# the two smaller tables below.
# Env: H2O (binary), SHARED (../shared), OUT (build/quality), THREADS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
H2O=${H2O:-bin/h2o} SHARED=${SHARED:-../shared} OUT=${OUT:-build/quality} THREADS=${THREADS:-1}
mkdir -p "$OUT"
"$H2O" ppl -m "$SHARED/models/debtext-30m-q8_0.gguf" -t "$THREADS" \
	--docs 4 --min-tokens 2048 --max-tokens 2048 \
	--policies full,h2o,window,sink --budgets 64,128,256,512 \
	--h2o-score cum,ema:0.9 --heavy-ratio 0.25,0.5 --granularity token,head \
	--json-out "$OUT/ppl-granularity.json" "$SHARED/data/text/valid" | tee "$OUT/ppl-granularity.md"
# Second table: the other score rules (mean, last) in the setup of the first,
# h2o only. 33 sessions, about 16 minutes. Skip it with RULES=0.
if [ "${RULES:-1}" != 0 ]; then
"$H2O" ppl -m "$SHARED/models/debtext-30m-q8_0.gguf" -t "$THREADS" \
	--docs 4 --min-tokens 2048 --max-tokens 2048 \
	--policies full,h2o --budgets 64,128,256,512 \
	--h2o-score mean,last --heavy-ratio 0.25,0.5 --granularity token,head \
	--json-out "$OUT/ppl-granularity-rules.json" "$SHARED/data/text/valid" | tee "$OUT/ppl-granularity-rules.md"
fi
# Third table: position rolling (per-head rolling re-rotates
# each head's keys by its own deltas), h2o only, H = B/2, budgets 128 and 512.
# 9 sessions (the full cache is the reference), about 6 minutes. Skip it with ROLLING=0.
[ "${ROLLING:-1}" = 0 ] && exit 0
"$H2O" ppl -m "$SHARED/models/debtext-30m-q8_0.gguf" -t "$THREADS" \
	--docs 4 --min-tokens 2048 --max-tokens 2048 \
	--policies full,h2o --budgets 128,512 --enable_position_rolling \
	--h2o-score cum,ema:0.9 --heavy-ratio 0.5 --granularity token,head \
	--json-out "$OUT/ppl-granularity-rolling.json" "$SHARED/data/text/valid" | tee "$OUT/ppl-granularity-rolling.md"
