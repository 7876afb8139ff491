#!/usr/bin/env bash
# Fetch the pinned llama.cpp/ggml sources from their carrier Go module,
# copy them into an ignored build folder and apply our patches in order.
# Usage: scripts/fetch-llama.sh OUTDIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/llama-src}
. "$root/llama.cpp/PIN"

patches=$(find "$root/llama.cpp/patches" -name '*.patch' | sort)
stamp="$MODULE@$VERSION $(for p in $patches; do sha256sum < "$p"; done | sha256sum | cut -d' ' -f1)"
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ]; then
  exit 0
fi

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# Outside any module so that only the carrier is downloaded; the go command
# verifies it against the checksum database, and we verify it against our pin.
json=$(cd "$tmp" && GOFLAGS=-mod=mod GO111MODULE=on go mod download -json "$MODULE@$VERSION")
dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
sum=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Sum": "\(.*\)",*$/\1/p')
if [ "$sum" != "$SUM" ]; then
  echo "fetch-llama: checksum mismatch for $MODULE@$VERSION: got '$sum', pinned '$SUM'" >&2
  exit 1
fi
[ -d "$dir" ] || { echo "fetch-llama: module dir missing: $dir" >&2; exit 1; }

stage=$tmp/src
mkdir -p "$stage/llama" "$stage/ggml"
cp -r "$dir/llama/llama.cpp/src" "$dir/llama/llama.cpp/include" "$stage/llama/"
cp -r "$dir/ml/backend/ggml/ggml/include" "$dir/ml/backend/ggml/ggml/src" "$dir/ml/backend/ggml/ggml/cmake" "$stage/ggml/"
cp "$dir/llama/llama.cpp/LICENSE" "$stage/LICENSE"
# The module cache is read-only; our copy must be writable to patch it.
chmod -R u+w "$stage"
# Go files of the carrier are not ours to build.
find "$stage" -name '*.go' -delete

for p in $patches; do
  if ! patch -d "$stage" -p1 --forward --quiet --no-backup-if-mismatch < "$p"; then
    echo "fetch-llama: patch does not apply: $(basename "$p")" >&2
    exit 1
  fi
done

# Replace only files whose content changed, so that the build system
# recompiles what a patch touched and nothing else.
mkdir -p "$out"
(cd "$stage" && find . -type f) | while read -r f; do
  if ! cmp -s "$stage/$f" "$out/$f"; then
    mkdir -p "$(dirname "$out/$f")"
    cp "$stage/$f" "$out/$f"
  fi
done
(cd "$out" && find . -type f ! -name .stamp) | while read -r f; do
  [ -e "$stage/$f" ] || rm -f "$out/$f"
done
echo "$stamp" > "$out/.stamp"
echo "fetch-llama: $MODULE@$VERSION (llama.cpp $LLAMA_CPP_COMMIT) -> $out" >&2
