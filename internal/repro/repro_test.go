package repro

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/h2o-kv/h2o/internal/testutil"
)

// cmdFiles are the names of docs/repro/*.cmd.
func cmdFiles(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(testutil.RepoRoot(), "docs", "repro", "*.cmd"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no docs/repro/*.cmd (%v)", err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".cmd"))
	}
	return names
}

// docs are README.md and docs/*.md, by path relative to the root.
func docs(t *testing.T) map[string]string {
	t.Helper()
	root := testutil.RepoRoot()
	paths, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	paths = append(paths, filepath.Join(root, "README.md"))
	out := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = string(b)
	}
	return out
}

var (
	cmdRef    = regexp.MustCompile(`docs/repro/([A-Za-z0-9_-]+)\.cmd`)
	runRef    = regexp.MustCompile("scripts/repro\\.sh((?:\\s+[a-z0-9-]+)+)")
	scriptRef = regexp.MustCompile(`scripts/[A-Za-z0-9_./-]+`)
)

// Every repro file is named by a doc, and everything the docs name exists:
// repro files, the names given to scripts/repro.sh, and scripts.
func TestDocsNameExistingReproFiles(t *testing.T) {
	root := testutil.RepoRoot()
	have := map[string]bool{}
	for _, n := range cmdFiles(t) {
		have[n] = true
	}
	named := map[string]bool{}
	for doc, text := range docs(t) {
		for _, m := range cmdRef.FindAllStringSubmatch(text, -1) {
			named[m[1]] = true
			if !have[m[1]] {
				t.Errorf("%s names docs/repro/%s.cmd, which does not exist", doc, m[1])
			}
		}
		for _, m := range runRef.FindAllStringSubmatch(text, -1) {
			for _, n := range strings.Fields(m[1]) {
				if n != "NAME" && !have[n] {
					t.Errorf("%s runs scripts/repro.sh %s: no docs/repro/%s.cmd", doc, n, n)
				}
			}
		}
		for _, s := range scriptRef.FindAllString(text, -1) {
			s = strings.TrimRight(s, ".")
			if _, err := os.Stat(filepath.Join(root, s)); err != nil {
				t.Errorf("%s names %s, which does not exist", doc, s)
			}
		}
	}
	for n := range have {
		if !named[n] {
			t.Errorf("docs/repro/%s.cmd is named by no doc", n)
		}
	}
}

// Every file has the header repro.sh needs and commands it accepts.
func TestReproFilesWellFormed(t *testing.T) {
	vars := regexp.MustCompile(`\$[A-Za-z_]+`)
	// a backend switch may come first, as repro.sh allows: env NAME=VALUE ...
	env := regexp.MustCompile(`^env( [A-Z_][A-Z0-9_]*=[^ ]*)+ `)
	for _, n := range cmdFiles(t) {
		b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "docs", "repro", n+".cmd"))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if !regexp.MustCompile(`(?m)^# table: docs/[A-Z]+\.md, "`).MatchString(text) {
			t.Errorf("%s.cmd: no '# table: docs/FILE.md, \"SECTION\"' header", n)
		}
		if !regexp.MustCompile(`(?m)^# machine: (CPU|GPU)\b`).MatchString(text) {
			t.Errorf("%s.cmd: no '# machine: CPU' or '# machine: GPU' header", n)
		}
		cmds := 0
		cont := false
		for _, line := range strings.Split(text, "\n") {
			if !cont && (line == "" || strings.HasPrefix(line, "#")) {
				continue
			}
			if !cont {
				cmds++
				if !strings.HasPrefix(env.ReplaceAllString(line, ""), "bin/") {
					t.Errorf("%s.cmd: %q does not run a program under bin/", n, line)
				}
			}
			for _, v := range vars.FindAllString(line, -1) {
				if v != "$SHARED" && v != "$OUT" && v != "$MODELS" {
					t.Errorf("%s.cmd: %s: only $SHARED, $OUT and $MODELS are expanded", n, v)
				}
			}
			cont = strings.HasSuffix(line, "\\")
		}
		if cmds == 0 {
			t.Errorf("%s.cmd holds no command", n)
		}
	}
}

// scripts/repro.sh accepts every file: its dry run prints each command.
func TestReproDryRun(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	names := cmdFiles(t)
	cmd := exec.Command("bash", append([]string{"scripts/repro.sh", "--dry-run"}, names...)...)
	cmd.Dir = testutil.RepoRoot()
	cmd.Env = append(os.Environ(), "SHARED=/shared", "MODELS=/models", "OUT=/out")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("repro.sh --dry-run: %v\n%s", err, out)
	}
	for _, n := range names {
		if !strings.Contains(string(out), "== "+n+" (") {
			t.Errorf("dry run names no file %s:\n%s", n, out)
		}
	}
	for _, want := range []string{
		"[1] bin/h2o bench -m /shared/models/debtext-30m-q8_0.gguf -t 1 -p 512 -n 128 -d 0,2048 -r 3 --modes full,h2o,window,sink --budgets 256\n",
		"--json-out /out/quality-stories/ppl-stories.json eval/testdata/stories\n",
		"[1] bin/h2o gguf random --preset llama2-7b --type q4_0 -o /models/llama2-7b-q4_0.gguf\n",
		"    (expected exit status 1)\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("dry run lacks %q", want)
		}
	}
}
