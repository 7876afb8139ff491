package stream

import (
	"strings"
	"testing"
)

func TestPromptTemplate(t *testing.T) {
	got := Prompt("Compose an engaging travel blog post.")
	if want := "USER: Compose an engaging travel blog post.\n\nASSISTANT: "; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	if got := Prompt(""); got != "USER: \n\nASSISTANT: " {
		t.Fatalf("empty turn: %q", got)
	}
}

// The printer writes what greedy_generate prints: complete words as they
// appear (each followed by a space), the rest and a newline at the end.
func TestWordPrinterMirrorsRecipe(t *testing.T) {
	cases := []struct {
		pieces []string
		writes []string // one per write
	}{
		{[]string{" Hello", ",", " world", "!", " Bye"}, []string{"Hello, ", "world! ", "Bye\n"}},
		{[]string{" One", " two", "\n", "Three", " "}, []string{"One ", "two\nThree\n"}},
		{[]string{" a", "  b"}, []string{"a  ", "b\n"}}, // split(" ") keeps empty words
		{nil, []string{"\n"}},
		{[]string{"   "}, []string{"\n"}},
	}
	for _, c := range cases {
		var w recorder
		p := &wordPrinter{w: &w}
		for _, piece := range c.pieces {
			if err := p.add(piece); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.finish(); err != nil {
			t.Fatal(err)
		}
		if strings.Join(w.writes, "|") != strings.Join(c.writes, "|") {
			t.Errorf("pieces %q: writes %q, want %q", c.pieces, w.writes, c.writes)
		}
	}
}

type recorder struct{ writes []string }

func (r *recorder) Write(b []byte) (int, error) {
	r.writes = append(r.writes, string(b))
	return len(b), nil
}
