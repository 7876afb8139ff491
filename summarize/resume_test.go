package summarize

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeLines(t *testing.T, path string, n int) []byte {
	t.Helper()
	var all []byte
	for i := range n {
		b, err := sampleLine(t, i).Encode()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	os.WriteFile(path, all, 0o644)
	return all
}

// A write cut short by a crash is dropped and overwritten by the next line.
func TestResumeDropsTruncatedLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	whole := writeLines(t, path, 2)
	third, _ := sampleLine(t, 2).Encode()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(third[:len(third)/2])
	f.Close()

	w, done, err := Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 2 {
		t.Fatalf("%d complete lines, want 2", len(done))
	}
	if err := w.Write(sampleLine(t, 2)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	got, _ := os.ReadFile(path)
	if string(got) != string(whole)+string(third) {
		t.Fatalf("resumed file differs from an uninterrupted one:\n%s", got)
	}
}

func TestResumeRejectsCorruptLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	writeLines(t, path, 1)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("{not json}\n")
	f.Close()
	_, _, err := Open(path, true)
	if err == nil || !strings.Contains(err.Error(), path+":2: cannot resume") {
		t.Fatalf("got %v", err)
	}
}

func TestResumeMissingFileStartsFresh(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.jsonl")
	w, done, err := Open(path, true)
	if err != nil || len(done) != 0 {
		t.Fatal(err, done)
	}
	w.Close()
}

func TestCheckDone(t *testing.T) {
	var recs []Record
	var done []Line
	for i := range 3 {
		l := sampleLine(t, i)
		r, _ := ParseRecord(l.Request, "in.jsonl", i+1)
		recs = append(recs, r)
		done = append(done, *l)
	}
	if err := checkDone("o", done[:2], recs, "h2o B=64", "m.gguf"); err != nil {
		t.Fatal(err)
	}
	// a line of another model; lines of older runs name none
	other := append([]Line(nil), done[:2]...)
	other[1].H2O.Model = "other.gguf"
	if err := checkDone("o", other, recs, "h2o B=64", "m.gguf"); err == nil || !strings.Contains(err.Error(), "model other.gguf, this run uses m.gguf") {
		t.Errorf("another model: %v", err)
	}
	other[1].H2O.Model = ""
	if err := checkDone("o", other, recs, "h2o B=64", "m.gguf"); err != nil {
		t.Errorf("a line naming no model: %v", err)
	}
	for name, c := range map[string]struct {
		done []Line
		recs []Record
		run  string
		want string
	}{
		"other run":   {done[:2], recs, "h2o B=128", `made with "h2o B=64", this run uses "h2o B=128"`},
		"more done":   {done, recs[:2], "h2o B=64", "holds 3 samples but only 2"},
		"out of step": {done[1:], recs, "h2o B=64", "output line 1 is sample 1"},
		"other input": {done[:1], []Record{{Line: 1, Article: "other"}}, "h2o B=64", "another request"},
	} {
		err := checkDone("o", c.done, c.recs, c.run, "m.gguf")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", name, err, c.want)
		}
	}
}
