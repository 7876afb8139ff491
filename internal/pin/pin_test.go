package pin_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/internal/pin"
	"github.com/h2o-kv/h2o/internal/testutil"
)

func commit(t *testing.T) string {
	t.Helper()
	c, err := pin.Read(filepath.Join(testutil.RepoRoot(), "llama.cpp", "PIN"), pin.LlamaCppCommit)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParse(t *testing.T) {
	kv, err := pin.Parse(strings.NewReader("# comment\n\nMODULE=github.com/x/y\n  SUM=h1:abc=\n"))
	if err != nil {
		t.Fatal(err)
	}
	if kv["MODULE"] != "github.com/x/y" || kv["SUM"] != "h1:abc=" || len(kv) != 2 {
		t.Fatalf("got %v", kv)
	}
	if _, err := pin.Parse(strings.NewReader("MODULE github.com/x/y\n")); err == nil {
		t.Fatal("a line without '=' parsed")
	}
}

// binding/pin.go is what go generate writes from the PIN, byte for byte.
func TestGeneratedCommitMatchesPIN(t *testing.T) {
	c := commit(t)
	if binding.LlamaCppCommit != c {
		t.Fatalf("binding.LlamaCppCommit = %q, llama.cpp/PIN has %q: run go generate ./binding", binding.LlamaCppCommit, c)
	}
	got, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "binding", "pin.go"))
	if err != nil {
		t.Fatal(err)
	}
	if want := pin.GoSource("binding", c); !bytes.Equal(got, want) {
		t.Fatalf("binding/pin.go differs from what go generate writes:\n%s\nwant:\n%s", got, want)
	}
}

// The commit is written in the PIN only (CMake reads it from there), except
// in the README, once.
func TestCommitWrittenOnlyInPIN(t *testing.T) {
	c := commit(t)
	root := testutil.RepoRoot()
	allowed := map[string]int{"llama.cpp/PIN": 1, "binding/pin.go": 1, "README.md": 1}
	found := map[string]int{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			case ".git", "build", "bin":
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.IndexByte(b, 0) >= 0 {
			return nil // a binary (a test binary built here, say), not a source
		}
		if n := bytes.Count(b, []byte(c)); n > 0 {
			found[filepath.ToSlash(rel)] = n
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for f, n := range found {
		if allowed[f] != n {
			t.Errorf("%s names the llama.cpp commit %s %d time(s): say \"the commit in llama.cpp/PIN\" instead", f, c, n)
		}
	}
	for f := range allowed {
		if found[f] == 0 {
			t.Errorf("%s does not name the commit %s of llama.cpp/PIN", f, c)
		}
	}
	// The README's mention must be this commit, not an older one.
	for f, re := range map[string]*regexp.Regexp{
		"README.md": regexp.MustCompile("llama\\.cpp commit `([0-9a-f]+)`"),
	} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			if string(m[1]) != c {
				t.Errorf("%s names llama.cpp commit %s, llama.cpp/PIN has %s", f, m[1], c)
			}
		}
	}
}
