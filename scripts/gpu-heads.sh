#!/usr/bin/env bash
# Per-token versus per-head eviction on a GPU machine: CUDA build, the
# per-head session tests on the GPU, then decode speed of a Llama-2-7B-shape
# random model (Q4_0) with H2O per token and per head (budget 2,048, rolling),
# after no context and after 32k of context, against the full cache.
# Needs bin/ (with bin/tests/session.test and bin/tests/h2o.test: `go test -c
# -o bin/tests/session.test ./session` and the same for ./h2o on the build
# machine), build/llama-src/ and the small shared models under $H2O_SHARED.
# Logs go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/h2o-gpu-heads}; mkdir -p "$out"
export H2O_SHARED=${H2O_SHARED:-$PWD/../shared}
bash scripts/gpu-build-check.sh > "$out/build.log" 2>&1 || { tail -20 "$out/build.log"; exit 1; }
cat "$out/build.log"
if [ -x bin/tests/session.test ]; then
  (cd session && ../bin/tests/session.test -test.run 'PerHead' -test.v 2>&1) | grep -E -- 'heads_test|--- ' | tee "$out/gpu-test.log"
else
  echo "bin/tests/session.test missing: skipping the per-head GPU tests" | tee "$out/gpu-test.log"
fi
bash scripts/gpu-models.sh /tmp/models > /dev/null
m=/tmp/models/llama2-7b-q4_0.gguf
# Decode (tg128) per token and per head; the prompt path (pp512) shows the
# cost of a chunk's compaction (up to one move per kept new token and head).
timeout 300 bin/h2o bench -m "$m" -ngl 99 -p 512 -n 128 -d 0,4096 -r 2 --modes full,h2o --budgets 2048 \
  --granularity token,head --note "random weights: speed only" 2>&1 | grep -v '^bench:' | tee "$out/heads-short.md"
timeout 600 bin/h2o bench -m "$m" -ngl 99 -p 0 -n 128 -d 32768 -r 1 --modes full,h2o --budgets 2048 \
  --granularity token,head --note "random weights: speed only" 2>&1 | grep -v '^bench:' | tee "$out/heads-long.md"
# Without rolling (the summarization recipe's setting) a decode step moves one
# row per (layer, head) and re-rotates nothing.
timeout 300 bin/h2o bench -m "$m" -ngl 99 -p 0 -n 128 -d 4096 -r 2 --modes h2o --budgets 2048 --rolling=false \
  --granularity token,head --note "random weights: speed only; no rolling" 2>&1 | grep -v '^bench:' | tee "$out/heads-norolling.md"
# The Go policy's share of a step (32 x 32 heads, B = 2,048), with and without rolling.
if [ -x bin/tests/h2o.test ]; then
  bin/tests/h2o.test -test.run XXX -test.bench HeadTrackerStep -test.benchtime 50x 2>&1 | grep Bench | tee "$out/policy-step.txt"
fi
