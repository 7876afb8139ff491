#!/usr/bin/env bash
# The GPU results of docs/BENCHMARKS.md in one run on a GPU machine: CUDA
# build, CPU-vs-GPU scores, summarize on the GPU, long-context decode of
# real-shape random models (full cache vs H2O). Needs bin/, build/llama-src/
# and the small shared models under $H2O_SHARED. Logs go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/h2o-gpu}; mkdir -p "$out"
export H2O_SHARED=${H2O_SHARED:-$PWD/../shared}
stories=$H2O_SHARED/models/stories260K.gguf
bash scripts/gpu-build-check.sh > "$out/build.log" 2>&1 || { tail -20 "$out/build.log"; exit 1; }
cat "$out/build.log"
bin/tests/binding.test -test.run 'GPU' -test.v 2>&1 | grep -E -- 'gpu_test|--- ' | tee "$out/gpu-test.log"
timeout 120 bin/h2o summarize -m "$stories" -ngl 99 --input-path "$H2O_SHARED/data/summarization/xsum_0shot.jsonl" \
  --output-path "$out/sum.jsonl" --enable_h2o_generation --num_window_length 64 --sample_num 20 2>&1 | tail -2 | tee "$out/summarize.log"
timeout 120 bin/h2o summarize -m "$stories" -ngl 99 --input-path "$H2O_SHARED/data/summarization/xsum_0shot.jsonl" \
  --output-path "$out/sweep.jsonl" --enable_h2o_generation --kv-budgets 64,128,full --truncate --sample_num 10 2>&1 | grep -v '^h2o:' | tail -8 | tee -a "$out/summarize.log"
bash scripts/gpu-models.sh /tmp/models > /dev/null
for m in llama2-7b llama3-8b; do
  timeout 200 bin/h2o bench -m /tmp/models/$m-q4_0.gguf -ngl 99 -p 0 -n 128 -d 0,32768 -r 1 --modes full,h2o --budgets 2048 \
    --note "random weights: speed only" 2>&1 | grep -v '^bench:' | tee "$out/long-$m.md"
done
