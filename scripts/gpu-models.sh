#!/usr/bin/env bash
# Writes the random-weight real-shape models used by the GPU benchmarks.
# Usage: scripts/gpu-models.sh DIR
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/models}; mkdir -p "$dir"
for spec in llama2-7b:q4_0 llama3-8b:q4_0; do
  f="$dir/${spec%%:*}-${spec##*:}.gguf"
  [ -f "$f" ] || bin/h2o gguf random --preset "${spec%%:*}" --type "${spec##*:}" -o "$f"
done
