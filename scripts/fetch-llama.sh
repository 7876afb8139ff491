#!/usr/bin/env bash
# Fetch the pinned llama.cpp/ggml sources from their carrier Go module,
# copy them into an ignored build folder and apply our patches in order.
# Usage: scripts/fetch-llama.sh OUTDIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/llama-pin.sh"
out=${1:-$root/build/llama-src}

patches=$(llama_pin_patches)
stamp="$MODULE@$VERSION $(for p in $patches; do sha256sum < "$p"; done | sha256sum | cut -d' ' -f1)"
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ]; then
  exit 0
fi

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
stage=$tmp/src
llama_pin_stage "$stage"

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
