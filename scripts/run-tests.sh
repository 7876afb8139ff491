#!/usr/bin/env bash
# Runs the whole Go test suite and ends with a one-line summary.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp); trap 'rm -f "$log"' EXIT
go test -count=1 -v "${@:-./...}" 2>&1 | tee "$log" | grep -E '^(=== RUN|--- (PASS|FAIL|SKIP)|ok|FAIL|PASS|panic)|SKIP|^\s+\S+_test.go' | grep -v '^=== RUN'
rc=${PIPESTATUS[0]}
pass=$(grep -cE '^\s*--- PASS' "$log"); fail=$(grep -cE '^\s*--- FAIL' "$log"); skip=$(grep -cE '^\s*--- SKIP' "$log")
echo
echo "go test: $pass passed, $fail failed, $skip skipped"
exit "$rc"
