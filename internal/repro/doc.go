// Package repro checks the reproduction files of the docs (docs/repro/*.cmd,
// run by scripts/repro.sh) against the docs that name them. It holds tests only.
package repro
