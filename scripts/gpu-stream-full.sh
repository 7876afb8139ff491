#!/usr/bin/env bash
# The full cache's side of the streaming demo on a GPU machine: it slows as
# the context fills, then stops with a clear message (gpu-stream.sh runs both
# sides; this one only the full cache, with a larger context).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/h2o-gpu}; mkdir -p "$out"
export H2O_SHARED=${H2O_SHARED:-$PWD/../shared}
bash scripts/gpu-models.sh /tmp/models > /dev/null
timeout "${TMO:-200}" bin/h2o stream -m /tmp/models/llama2-7b-q4_0.gguf -ngl 99 --input-path "$H2O_SHARED/data/mt_bench/question.jsonl" \
  --mode full -c "${CTX:-32768}" --max-gen-len 32 --loop 3 -q --json-stats "$out/stream-full.jsonl" > /dev/null 2> "$out/stream-full.log"
echo "full exit $?"; tail -6 "$out/stream-full.log"
