#!/usr/bin/env bash
# On a GPU machine (nvcc, cmake, ninja; no Go needed): build the CUDA backend
# from the carried patched tree, then check that bin/h2o finds and uses it.
# Needs bin/ (built by `make` elsewhere) and build/llama-src/. OUT: log folder.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
start=$(date +%s)
make cuda CUDA_ARCH=${CUDA_ARCH:-90} > "$out/cuda-build.log" 2>&1 || { tail -30 "$out/cuda-build.log"; exit 1; }
echo "cuda build: $(( $(date +%s) - start ))s"; ls -la bin/lib | grep cuda
bin/h2o version
