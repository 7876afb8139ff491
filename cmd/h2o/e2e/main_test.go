// Package e2e runs the h2o binary as a user does: every bad input must end
// in a clear error (or a warning where the run is still meaningful), never
// a crash or a hang, and an interrupted run must keep what it did.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/h2o-kv/h2o/internal/testutil"
)

// h2oBin is the binary under test: built from this tree by TestMain, or
// $H2O_BIN, or on a machine without Go (a test binary built elsewhere, run
// from the repository root) bin/h2o.
var h2oBin string

func TestMain(m *testing.M) {
	h2oBin = os.Getenv("H2O_BIN")
	if _, err := exec.LookPath("go"); err != nil && h2oBin == "" {
		h2oBin = filepath.Join("bin", "h2o")
	}
	if h2oBin != "" {
		if abs, err := filepath.Abs(h2oBin); err == nil {
			h2oBin = abs
		}
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "h2o-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	h2oBin = filepath.Join(dir, "h2o")
	build := exec.Command("go", "build", "-o", h2oBin, "github.com/h2o-kv/h2o/cmd/h2o")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building h2o:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one finished command.
type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
	killed         bool // the time limit ended it
}

// h2o runs the binary from the repository root (where ../shared resolves)
// with a time limit.
func h2o(t *testing.T, limit time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, h2oBin, args...)
	cmd.Dir = repoRoot()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	r := result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errOut.String(), took: time.Since(start), killed: ctx.Err() != nil}
	if err != nil && r.code == 0 && !r.killed {
		t.Fatalf("h2o %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// repoRoot is where commands run (../shared resolves from there): the
// repository this test was built from, else the working directory (a test
// binary run from the root of a copy).
func repoRoot() string {
	if root := testutil.RepoRoot(); dirExists(root) {
		return root
	}
	wd, _ := os.Getwd()
	return wd
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// crashed names what in a command's output means a crash rather than an error.
func crashed(r result) string {
	for _, sign := range []string{"panic:", "SIGABRT", "SIGSEGV", "fatal error", "goroutine ", "GGML_ASSERT", "core dumped"} {
		if strings.Contains(r.stdout+r.stderr, sign) {
			return sign
		}
	}
	return ""
}

// stories is the small model; eval the evaluation model (both skip the test when absent).
func stories(t *testing.T) string   { return testutil.Stories260K(t) }
func evalModel(t *testing.T) string { return testutil.EvalModel(t) }
