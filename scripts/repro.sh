#!/usr/bin/env bash
# Runs the reproduction commands of a table in the docs: docs/repro/NAME.cmd.
#
# Usage: scripts/repro.sh [--dry-run] [-q] NAME|FILE...
#        scripts/repro.sh --list
#
# A .cmd file is data: one command a line (a trailing backslash continues it),
# '#' comments, and a header that names the table and the machine kind
# ("# machine: CPU" or "# machine: GPU"). Every command runs a program under
# bin/ (bin/h2o, or a test binary under bin/tests/) from the repository root,
# optionally after `env NAME=VALUE ...` (a backend switch such as
# GGML_CUDA_DISABLE_FUSION=1, so that both sides of a comparison share a file);
# the only expansions are $SHARED (the shared models and data), $OUT (this
# run's log folder) and $MODELS (the random-weight models). A comment
# "# exit: N" before a command says that it is expected to end with status N.
# A `bin/h2o gguf random ... -o FILE` line is skipped when FILE exists.
#
# Each command's stdout goes to $OUT/N.out (and the terminal unless -q), its
# stderr to $OUT/N.err; the first command that fails stops the run. On a GPU
# file the CUDA backend is built first (`make cuda`) when bin/lib lacks it, so
# a GPU machine needs bash, cmake and nvcc, not Go: bring bin/ and
# build/llama-src/ along.
#
# Env: SHARED (default $H2O_SHARED, else ../shared), OUT (default build/repro;
# each file logs to $OUT/NAME), MODELS (default /tmp/models), CUDA_ARCH (for
# make cuda, default 90), TIMEOUT (seconds per command, default none).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

dry=0 quiet=0 list=0
names=()
for a in "$@"; do
  case $a in
    --dry-run|-n) dry=1 ;;
    -q) quiet=1 ;;
    --list) list=1 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "repro: unknown option $a" >&2; exit 2 ;;
    *) names+=("$a") ;;
  esac
done

if [ "$list" = 1 ]; then
  for f in docs/repro/*.cmd; do
    n=$(basename "$f" .cmd)
    printf '%-28s %-4s %s\n' "$n" "$(sed -n 's/^# machine: *\([A-Z]*\).*/\1/p' "$f" | head -1)" "$(sed -n 's/^# table: *//p' "$f" | head -1)"
  done
  exit 0
fi
[ ${#names[@]} -gt 0 ] || { echo "usage: scripts/repro.sh [--dry-run] [-q] NAME... (scripts/repro.sh --list names them)" >&2; exit 2; }

abs() {
  local p
  case $1 in /*) p=$1 ;; *) p=$root/$1 ;; esac
  if [ -d "$p" ]; then (cd "$p" && pwd); else printf '%s' "$p"; fi
}
SHARED=$(abs "${SHARED:-${H2O_SHARED:-../shared}}")
MODELS=$(abs "${MODELS:-/tmp/models}")
outroot=$(abs "${OUT:-build/repro}")
# Test binaries find the shared folder through H2O_SHARED.
export H2O_SHARED=$SHARED

# commands FILE: prints one command a line (continuations joined), each
# preceded by its expected exit status and a tab.
commands() {
  local line cmd="" want=0
  while IFS= read -r line || [ -n "$line" ]; do
    if [ -z "$cmd" ]; then
      case $line in
        "# exit:"*) want=${line#"# exit:"}; want=${want// /}; continue ;;
        \#*|"") continue ;;
      esac
    fi
    if [[ $line == *\\ ]]; then
      cmd+="${line%\\} "
      continue
    fi
    cmd+=$line
    printf '%s\t%s\n' "$want" "$(echo "$cmd" | tr -s ' ')"
    cmd="" want=0
  done < "$1"
  [ -z "$cmd" ] || { echo "repro: $1: the last line ends with a backslash" >&2; return 1; }
}

# expand CMD OUTDIR: the command with $SHARED, $OUT and $MODELS replaced;
# fails on any other '$' (the files are data, not shell scripts).
expand() {
  local c=$1
  c=${c//\$SHARED/$(printf %q "$SHARED")}
  c=${c//\$MODELS/$(printf %q "$MODELS")}
  c=${c//\$OUT/$(printf %q "$2")}
  case $c in *'$'*|*'`'*) return 1 ;; esac
  printf '%s' "$c"
}

has_cuda() { compgen -G 'bin/lib/libggml-cuda.so*' > /dev/null; }

run_file() {
  local name=$1 file
  case $name in
    */*|*.cmd) file=$name; name=$(basename "$name" .cmd) ;;
    *) file=docs/repro/$name.cmd ;;
  esac
  [ -f "$file" ] || { echo "repro: no such file $file (scripts/repro.sh --list names them)" >&2; return 2; }
  local machine out
  machine=$(sed -n 's/^# machine: *\([A-Z]*\).*/\1/p' "$file" | head -1)
  case $machine in
    CPU|GPU) ;;
    *) echo "repro: $file: the header names no machine ('# machine: CPU' or '# machine: GPU')" >&2; return 2 ;;
  esac
  out=$outroot/$name
  local cmds
  cmds=$(commands "$file") || return 2
  [ -n "$cmds" ] || { echo "repro: $file holds no command" >&2; return 2; }

  local want cmd x i=0
  # Check every line before running any.
  local prog
  while IFS=$'\t' read -r want cmd; do
    i=$((i + 1))
    prog=$cmd
    if [[ $prog == "env "* ]]; then
      prog=${prog#env }
      while [[ $prog =~ ^[A-Z_][A-Z0-9_]*=[^\ ]*\  ]]; do prog=${prog#"${BASH_REMATCH[0]}"}; done
    fi
    case $prog in
      bin/*) ;;
      *) echo "repro: $file: command $i does not run a program under bin/: $cmd" >&2; return 2 ;;
    esac
    case $want in ''|*[!0-9]*) echo "repro: $file: command $i: bad '# exit:' status '$want'" >&2; return 2 ;; esac
    expand "$cmd" "$out" > /dev/null || { echo "repro: $file: command $i uses an expansion other than \$SHARED, \$OUT, \$MODELS: $cmd" >&2; return 2; }
  done <<< "$cmds"

  echo "== $name ($machine): $file -> $out"
  if [ "$dry" = 1 ]; then
    if [ "$machine" = GPU ] && ! has_cuda; then
      echo "make cuda CUDA_ARCH=${CUDA_ARCH:-90}   # bin/lib has no CUDA backend"
    fi
  else
    mkdir -p "$out" || return 1
    cp "$file" "$out/"
    if [ "$machine" = GPU ]; then
      command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.txt" 2>&1
      if ! has_cuda; then
        local start=$SECONDS
        echo "make cuda CUDA_ARCH=${CUDA_ARCH:-90} (log: $out/cuda-build.log)"
        if ! make cuda CUDA_ARCH="${CUDA_ARCH:-90}" > "$out/cuda-build.log" 2>&1; then
          tail -30 "$out/cuda-build.log" >&2
          echo "repro: $name: make cuda failed" >&2
          return 1
        fi
        echo "cuda build: $((SECONDS - start))s"
      fi
    fi
    bin/h2o version > "$out/version.txt" 2>&1 || { cat "$out/version.txt" >&2; echo "repro: bin/h2o version failed" >&2; return 1; }
    cat "$out/version.txt"
  fi

  i=0
  while IFS=$'\t' read -r want cmd; do
    i=$((i + 1))
    x=$(expand "$cmd" "$out")
    if [[ $cmd == "bin/h2o gguf random "* ]]; then
      local f
      f=$(eval "set -- $x"; while [ $# -gt 0 ]; do [ "$1" = -o ] && { echo "$2"; break; }; shift; done)
      if [ -n "$f" ] && [ -f "$f" ]; then
        echo "[$i] $f exists: kept"
        continue
      fi
      [ "$dry" = 1 ] || [ -z "$f" ] || mkdir -p "$(dirname "$f")"
    fi
    echo "[$i] $x"
    [ "$want" = 0 ] || echo "    (expected exit status $want)"
    [ "$dry" = 1 ] && continue
    local start=$SECONDS rc
    if [ -n "${TIMEOUT:-}" ]; then x="timeout $TIMEOUT $x"; fi
    if [ "$quiet" = 1 ]; then
      (eval "$x") > "$out/$i.out" 2> "$out/$i.err" < /dev/null
      rc=$?
    else
      (eval "$x") 2> "$out/$i.err" < /dev/null | tee "$out/$i.out"
      rc=${PIPESTATUS[0]}
    fi
    if [ "$rc" != "$want" ]; then
      tail -20 "$out/$i.err" >&2
      echo "repro: $name: command $i exited with status $rc (expected $want); logs: $out/$i.out, $out/$i.err" >&2
      return 1
    fi
    echo "    exit $rc, $((SECONDS - start))s; logs: $out/$i.out, $out/$i.err"
  done <<< "$cmds"
}

for n in "${names[@]}"; do
  run_file "$n" || exit $?
done
