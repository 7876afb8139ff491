package rouge

import (
	"math"
	"strings"
	"testing"
)

// The tokenizer (sentences, then words) and the scores never panic on any
// text; words hold no Python whitespace; scores are finite and in [0, 1];
// a text scored against itself has F = 1.
func FuzzTokenizeAndScore(f *testing.F) {
	for _, s := range []string{
		"", ".", "..", " . ", "The cat sat. The dog ran.", "a\u00a0b\u2003c.\u3000d", "\x1c\x1d.\x1e\x1f",
		"ünïcödé wörds. 日本語の文.", "\xff\xfe invalid utf8 .", "a.b.c.d.e.f", strings.Repeat("word ", 200),
	} {
		f.Add(s, "the cat sat on the mat.")
	}
	f.Fuzz(func(t *testing.T, hyp, ref string) {
		for _, w := range splitIntoWords(sentences(hyp)) {
			if strings.ContainsFunc(w, isPySpace) {
				t.Fatalf("word %q holds white space", w)
			}
		}
		sc, err := Compute(hyp, ref)
		if err != nil {
			return
		}
		for _, s := range []Score{sc.Rouge1, sc.Rouge2, sc.RougeL} {
			for _, v := range []float64{s.P, s.R, s.F} {
				if math.IsNaN(v) || v < 0 || v > 1+1e-12 {
					t.Fatalf("score %v out of [0, 1] for %q vs %q", s, hyp, ref)
				}
			}
		}
		// pltrdy adds 1e-8 to P + R in F
		if self, err := Compute(hyp, hyp); err == nil && self.Rouge1.F != 0 && math.Abs(self.Rouge1.F-1) > 1e-7 {
			t.Fatalf("ROUGE-1 of %q against itself is %v", hyp, self.Rouge1.F)
		}
	})
}
