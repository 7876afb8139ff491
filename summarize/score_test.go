package summarize

import (
	"errors"
	"math"
	"testing"
)

func TestScoreEmptyPolicies(t *testing.T) {
	for _, text := range []string{"", "..."} {
		r, empty, err := score(text, "A cat sat.", EmptyZero)
		if err != nil || !empty || r == nil || *r != (RougeF{}) {
			t.Errorf("zero %q: %v %v %v", text, r, empty, err)
		}
		r, empty, err = score(text, "A cat sat.", EmptySkip)
		if err != nil || !empty || r != nil {
			t.Errorf("skip %q: %v %v %v", text, r, empty, err)
		}
		_, _, err = score(text, "A cat sat.", EmptyFail)
		if !errors.Is(err, ErrEmptyGeneration) {
			t.Errorf("fail %q: %v", text, err)
		}
	}
	r, empty, err := score("A cat sat", "A cat sat.", EmptyFail)
	if err != nil || empty || r.Rouge1.F < 0.99 || r.Rouge2.F < 0.99 {
		t.Fatalf("%+v %v %v", r, empty, err)
	}
	if _, err := ParseEmptyPolicy("maybe"); err == nil {
		t.Fatal("want an error")
	}
}

func TestAveragesLines(t *testing.T) {
	var a Averages
	a.Add(&RougeF{Rouge1: PRF{F: 0.5}, Rouge2: PRF{F: 0.25}, RougeL: PRF{F: 0.125}})
	a.Add(nil) // skipped: not counted
	a.Add(&RougeF{Rouge1: PRF{F: 0.25}})
	if a.N() != 2 || math.Abs(a.Rouge1()-0.375) > 0 {
		t.Fatalf("n %d r1 %v", a.N(), a.Rouge1())
	}
	if got, want := a.Final(), "Average Rouge1: 0.375000, Rouge-2: 0.125000, Rouge-l: 0.062500"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	if got, want := a.Running(), "rouge-1: 0.375000, rouge-2: 0.125000, rouge-l: 0.062500"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}
