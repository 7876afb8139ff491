package stream

import (
	"bytes"
	"strings"
	"testing"
)

// Parse never panics: it returns questions or an error naming file:line.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"question_id": 81, "category": "writing", "turns": ["Compose a blog post.", "Rewrite it."]}` + "\n",
		"\xef\xbb\xbf" + `{"question_id": 1, "turns": ["a"]}`,
		"\n\n", `{"turns": []}`, `{"turns": "x"}`, `{"question_id": "1", "turns": ["a"]}`, `[1, 2]`, `{`, "\x00",
		`{"question_id": 1e400, "turns": ["a"]}`, `{"turns": [null]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		qs, err := Parse(bytes.NewReader(b), "q.jsonl")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "q.jsonl:") {
				t.Fatalf("error %q does not name the line", err)
			}
			return
		}
		Flatten(qs)
	})
}
