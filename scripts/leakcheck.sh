#!/usr/bin/env bash
# Leak check: a load/generate/close loop under valgrind. Fails on memory
# definitely lost. Usage: scripts/leakcheck.sh [MODEL]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-../shared/models/stories260K.gguf}
command -v valgrind >/dev/null || { echo "leakcheck: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
go build -o bin/leakloop ./scripts/leakloop
# One P: the batcher then runs its per-sequence work inline; valgrind misreads
# accesses to the stacks of Go worker goroutines as invalid. No asynchronous
# preemption: valgrind sometimes flags the signal handler's stack writes.
GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 valgrind --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  --error-exitcode=3 --suppressions=scripts/valgrind-go.supp \
  bin/leakloop -m "$model" -loops 3 2>&1 | tee /tmp/h2o-leakcheck.log | grep -E "definitely lost|indirectly lost|ERROR SUMMARY|leakloop:" 
