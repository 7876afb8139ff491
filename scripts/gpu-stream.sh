#!/usr/bin/env bash
# The streaming demo on a GPU machine with a real-shape model (random
# weights: speed and memory only): h2o keeps speed and VRAM flat over
# --loop passes of MT-Bench; the full cache slows as it fills, then stops
# with a clear message. Needs bin/ with the CUDA backend built and
# $H2O_SHARED/data/mt_bench/question.jsonl. Logs to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/h2o-gpu}; mkdir -p "$out"
export H2O_SHARED=${H2O_SHARED:-$PWD/../shared}
bash scripts/gpu-models.sh /tmp/models > /dev/null
model=/tmp/models/llama2-7b-q4_0.gguf
q=$H2O_SHARED/data/mt_bench/question.jsonl
loops=${LOOPS:-3}
timeout 400 bin/h2o stream -m "$model" -ngl 99 --input-path "$q" --mode h2o --enable_h2o_generation \
  --num_heavy_hitter_tokens 128 --num_window_length 256 --enable_position_rolling --max-gen-len 32 --loop "$loops" -q \
  --json-stats "$out/stream-h2o.jsonl" > /dev/null 2> "$out/stream-h2o.log"
echo "h2o exit $?"; tail -6 "$out/stream-h2o.log"
timeout 200 bin/h2o stream -m "$model" -ngl 99 --input-path "$q" --mode full -c 16384 --max-gen-len 32 --loop "$loops" -q \
  --json-stats "$out/stream-full.jsonl" > /dev/null 2> "$out/stream-full.log"
echo "full exit $?"; tail -8 "$out/stream-full.log"
