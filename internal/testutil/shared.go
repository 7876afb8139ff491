// Package testutil finds the shared test material (../shared from the
// repository root) and skips tests clearly when it is absent.
package testutil

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// RepoRoot is the repository root (found from this file's location).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// SharedDir is ../shared beside the repository, or $H2O_SHARED.
func SharedDir() string {
	if d := os.Getenv("H2O_SHARED"); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(), "..", "shared")
}

// Shared returns the path of rel inside the shared folder, or skips the test
// with a message naming what is missing.
func Shared(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(SharedDir(), rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test material %s not found (%v): skipping; put the shared folder beside the repository or set H2O_SHARED", p, err)
	}
	return p
}

// Stories260K is the small trained TinyStories model.
func Stories260K(t testing.TB) string { return Shared(t, "models/stories260K.gguf") }

// EvalModel is the trained evaluation model (debtext-30m, context 2048).
func EvalModel(t testing.TB) string { return Shared(t, "models/debtext-30m-q8_0.gguf") }
