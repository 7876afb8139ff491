# Sourced by scripts/fetch-llama.sh and scripts/patches.sh: the pinned
# llama.cpp/ggml sources, unpatched.
#
# llama_pin_stage DIR: download the carrier module named in llama.cpp/PIN
# (verified by the Go checksum database and against the pinned sum) and copy
# the llama.cpp and ggml sources we build into DIR (writable, no Go files).

root=${root:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
. "$root/llama.cpp/PIN"

llama_pin_stage() {
  local stage=$1 tmp json dir sum
  tmp=$(mktemp -d)
  # Outside any module so that only the carrier is downloaded.
  json=$(cd "$tmp" && GOFLAGS=-mod=mod GO111MODULE=on go mod download -json "$MODULE@$VERSION")
  rm -rf "$tmp"
  dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
  sum=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Sum": "\(.*\)",*$/\1/p')
  if [ "$sum" != "$SUM" ]; then
    echo "llama-pin: checksum mismatch for $MODULE@$VERSION: got '$sum', pinned '$SUM'" >&2
    return 1
  fi
  [ -d "$dir" ] || { echo "llama-pin: module dir missing: $dir" >&2; return 1; }
  mkdir -p "$stage/llama" "$stage/ggml"
  cp -r "$dir/llama/llama.cpp/src" "$dir/llama/llama.cpp/include" "$stage/llama/"
  cp -r "$dir/ml/backend/ggml/ggml/include" "$dir/ml/backend/ggml/ggml/src" "$dir/ml/backend/ggml/ggml/cmake" "$stage/ggml/"
  cp "$dir/llama/llama.cpp/LICENSE" "$stage/LICENSE"
  # The module cache is read-only; our copy must be writable to patch it.
  chmod -R u+w "$stage"
  # Go files of the carrier are not ours to build.
  find "$stage" -name '*.go' -delete
}

# The patch files in the order they apply.
llama_pin_patches() {
  find "$root/llama.cpp/patches" -name '*.patch' | sort
}
