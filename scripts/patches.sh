#!/usr/bin/env bash
# The patch series llama.cpp/patches as a git work tree, one commit a patch.
#
#   scripts/patches.sh apply  [DIR]  pinned sources into DIR (default build/patches),
#                                    committed as `pin`, then each patch as a commit (git am)
#   scripts/patches.sh format [DIR]  DIR's commits after `pin` back into llama.cpp/patches
#   scripts/patches.sh check  [DIR]  no commit removes or changes a line that an earlier one added
#   scripts/patches.sh verify        apply + format + check in a scratch folder: the committed
#                                    patches must come back byte for byte
#
# Editing a patch: apply, edit the work tree, `git commit --amend` (or
# `git rebase -i pin` for an earlier one), format, commit the patch files.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/llama-pin.sh"

cmd=${1:-}
dir=${2:-$root/build/patches}
patches_dir=$root/llama.cpp/patches

# Fixed identities and dates: the same series gives the same commits.
export GIT_AUTHOR_NAME=h2o GIT_AUTHOR_EMAIL=dev@h2o GIT_COMMITTER_NAME=h2o GIT_COMMITTER_EMAIL=dev@h2o
pin_date="2000-01-01T00:00:00Z"

g() { git -C "$dir" -c core.autocrlf=false -c core.safecrlf=false -c commit.gpgsign=false "$@"; }

apply() {
  rm -rf "$dir"
  mkdir -p "$dir"
  llama_pin_stage "$dir"
  g init -q
  # edits made by hand in the work tree carry the series' identity too
  g config user.name "$GIT_AUTHOR_NAME"
  g config user.email "$GIT_AUTHOR_EMAIL"
  g add -A
  GIT_AUTHOR_DATE=$pin_date GIT_COMMITTER_DATE=$pin_date g commit -q -m "pin: $MODULE@$VERSION (llama.cpp $LLAMA_CPP_COMMIT)"
  g tag pin
  local p
  for p in $(llama_pin_patches); do
    if ! g am -q --keep-cr --committer-date-is-author-date "$p"; then
      g am --abort || true
      echo "patches: $(basename "$p") does not apply on top of the ones before it" >&2
      exit 1
    fi
  done
  echo "patches: $(g rev-list --count pin..HEAD) patches applied in $dir (git log pin..)" >&2
}

format() {
  local out=${1:-$patches_dir}
  g rev-parse -q --verify pin >/dev/null || { echo "patches: $dir is not a work tree from 'apply'" >&2; exit 1; }
  mkdir -p "$out"
  rm -f "$out"/*.patch
  # Every setting that changes the text is fixed here, not taken from the
  # user's git configuration.
  g -c diff.algorithm=myers -c diff.noprefix=false -c diff.mnemonicPrefix=false -c diff.suppressBlankEmpty=false \
    -c format.signature= -c format.numbered=auto -c core.abbrev=12 \
    format-patch -q --zero-commit --no-signature --full-index --no-renames --no-binary -o "$out" pin..HEAD
  echo "patches: $(ls "$out"/*.patch | wc -l) patches written to $out" >&2
}

# Every line a commit removes (a changed line is removed and added) must come
# from the pinned sources, not from an earlier patch.
check() {
  local pin_sha bad=0 c file hunk start len
  pin_sha=$(g rev-parse pin)
  for c in $(g rev-list --reverse pin..HEAD); do
    local subject
    subject=$(g log -1 --format=%s "$c")
    while IFS= read -r line; do
      case $line in
        "--- a/"*) file=${line#--- a/} ;;
        "--- /dev/null") file= ;;
        "@@ "*)
          [ -n "$file" ] || continue
          hunk=${line#@@ -}; hunk=${hunk%% *}
          start=${hunk%,*}; len=1
          [[ $hunk == *,* ]] && len=${hunk#*,}
          [ "$len" -gt 0 ] || continue
          while read -r sha _; do
            # a line of the root commit shows as ^ and the hash less its last digit
            sha=${sha#^}
            if [ "${pin_sha#"$sha"}" = "$pin_sha" ]; then
              echo "patches: '$subject' changes $file:$start+$len, a line added by '$(g log -1 --format=%s "$sha" 2>/dev/null || echo "$sha")'" >&2
              bad=1
              break
            fi
          done < <(g blame -l -s -L "$start,+$len" "$c^" -- "$file")
          ;;
      esac
    done < <(g diff -U0 --no-renames "$c^" "$c")
  done
  [ $bad = 0 ] || exit 1
  echo "patches: no patch changes a line that an earlier one added" >&2
}

verify() {
  scratch=""
  scratch=$(mktemp -d); trap 'rm -rf "${scratch:-}"' EXIT
  dir=$scratch/tree
  apply
  format "$scratch/patches"
  if ! diff -r "$patches_dir" "$scratch/patches" >"$scratch/diff"; then
    head -50 "$scratch/diff" >&2
    echo "patches: formatting the applied series does not give llama.cpp/patches back (run scripts/patches.sh format)" >&2
    exit 1
  fi
  check
  echo "patches: llama.cpp/patches apply and format back byte for byte" >&2
}

case $cmd in
  apply)  apply ;;
  format) format ;;
  check)  check ;;
  verify) verify ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
