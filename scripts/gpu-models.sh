#!/usr/bin/env bash
# Writes the random-weight real-shape models used by the GPU benchmarks.
# Usage: scripts/gpu-models.sh DIR [SPEC...]   (SPEC: preset:type, default both)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/models}; mkdir -p "$dir"
shift || true
specs=("$@"); [ ${#specs[@]} -gt 0 ] || specs=(llama2-7b:q4_0 llama3-8b:q4_0)
for spec in "${specs[@]}"; do
  f="$dir/${spec%%:*}-${spec##*:}.gguf"
  [ -f "$f" ] || bin/h2o gguf random --preset "${spec%%:*}" --type "${spec##*:}" -o "$f"
done
