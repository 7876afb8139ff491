package stream

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/h2o-kv/h2o/internal/testutil"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadReportsFileAndLine(t *testing.T) {
	good := `{"question_id": 81, "category": "writing", "turns": ["a", "b"]}`
	cases := []struct {
		name, line, want string
	}{
		{"invalid json", `{"question_id": 1, "turns": ["a"]`, "invalid JSON"},
		{"not an object", `["a"]`, "want a JSON object"},
		{"missing id", `{"turns": ["a"]}`, "missing question_id"},
		{"string id", `{"question_id": "81", "turns": ["a"]}`, `question_id: want an integer, got "81"`},
		{"fractional id", `{"question_id": 1.5, "turns": ["a"]}`, "question_id: want an integer"},
		{"missing turns", `{"question_id": 1}`, "missing turns"},
		{"empty turns", `{"question_id": 1, "turns": []}`, "turns: empty"},
		{"turns not array", `{"question_id": 1, "turns": "a"}`, "turns: want an array of strings"},
		{"turn not string", `{"question_id": 1, "turns": ["a", 2]}`, "turns[1]: want a string, got 2"},
		{"category not string", `{"question_id": 1, "category": 3, "turns": ["a"]}`, "category: want a string"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// line 1 good, line 2 blank (skipped, still counted), line 3 bad
			p := writeFile(t, dir, "q.jsonl", good+"\n\n"+c.line+"\n"+good+"\n")
			_, err := Load(p)
			if err == nil {
				t.Fatal("no error")
			}
			if want := p + ":3: " + c.want; !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("got  %q\nwant prefix %q", err, want)
			}
		})
	}
}

func TestLoadParsesQuestions(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "q.jsonl", "\xef\xbb\xbf"+`{"question_id": 81, "category": "writing", "turns": ["a", "b"]}`+"\r\n"+
		"   \n"+`{"question_id": 101, "category": "reasoning", "turns": ["c"], "reference": ["x"]}`) // no final newline
	qs, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []Question{{81, "writing", []string{"a", "b"}}, {101, "reasoning", []string{"c"}}}
	if !reflect.DeepEqual(qs, want) {
		t.Fatalf("got %+v", qs)
	}
	turns := Flatten(qs)
	wantTurns := []Turn{{81, "writing", 1, "a"}, {81, "writing", 2, "b"}, {101, "reasoning", 1, "c"}}
	if !reflect.DeepEqual(turns, wantTurns) {
		t.Fatalf("flatten: got %+v", turns)
	}
	if _, err := Load(writeFile(t, dir, "empty.jsonl", "\n\n")); err == nil || !strings.Contains(err.Error(), "no questions") {
		t.Fatalf("empty file: %v", err)
	}
}

func TestResolveInput(t *testing.T) {
	dir := t.TempDir()
	if _, err := ResolveInput(dir); err == nil || !strings.Contains(err.Error(), "mt_bench.jsonl") {
		t.Fatalf("empty dir: %v", err)
	}
	q := writeFile(t, dir, "question.jsonl", "{}")
	if got, err := ResolveInput(dir); err != nil || got != q {
		t.Fatalf("question.jsonl: %q %v", got, err)
	}
	mt := writeFile(t, dir, "mt_bench.jsonl", "{}") // the recipe's name wins
	if got, err := ResolveInput(dir); err != nil || got != mt {
		t.Fatalf("mt_bench.jsonl: %q %v", got, err)
	}
	if got, err := ResolveInput(q); err != nil || got != q {
		t.Fatalf("file: %q %v", got, err)
	}
	if _, err := ResolveInput(filepath.Join(dir, "nope")); err == nil {
		t.Fatal("missing path accepted")
	}
}

// The shared MT-Bench file: 80 questions, 160 turns, in file order.
func TestLoadMTBench(t *testing.T) {
	qs, err := Load(testutil.Shared(t, "data/mt_bench/question.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	turns := Flatten(qs)
	if len(qs) != 80 || len(turns) != 160 {
		t.Fatalf("%d questions, %d turns", len(qs), len(turns))
	}
	if turns[0].QuestionID != 81 || turns[1].Turn != 2 || !strings.HasPrefix(turns[0].Text, "Compose an engaging travel blog post") {
		t.Fatalf("first turns: %+v", turns[:2])
	}
}
