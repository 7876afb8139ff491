package rouge

import (
	"errors"
	"math"
	"strconv"
	"testing"
)

// f1ref is the Python formula 2.0 * ((p * r) / (p + r + 1e-8)).
func f1ref(p, r float64) float64 { return 2.0 * ((p * r) / (p + r + 1e-8)) }

// fOne is F when P = R = 1: 2 * (1 / 2.00000001) = 0.999999995.
const fOne = 0.999999995

func sc(p, r, f float64) Score { return Score{P: p, R: r, F: f} }

func checkScores(t *testing.T, name string, got, want Scores) {
	t.Helper()
	g := []float64{got.Rouge1.P, got.Rouge1.R, got.Rouge1.F, got.Rouge2.P, got.Rouge2.R, got.Rouge2.F, got.RougeL.P, got.RougeL.R, got.RougeL.F}
	w := []float64{want.Rouge1.P, want.Rouge1.R, want.Rouge1.F, want.Rouge2.P, want.Rouge2.R, want.Rouge2.F, want.RougeL.P, want.RougeL.R, want.RougeL.F}
	labels := []string{"rouge-1 p", "rouge-1 r", "rouge-1 f", "rouge-2 p", "rouge-2 r", "rouge-2 f", "rouge-l p", "rouge-l r", "rouge-l f"}
	for i := range g {
		// Exact comparison on purpose: the package promises CPython's bits.
		if g[i] != w[i] {
			t.Errorf("%s: %s = %v (%b), want %v (%b)", name, labels[i], g[i], g[i], w[i], w[i])
		}
	}
}

// Hand-worked cases. The arithmetic is in the comments; every expected value
// was also cross-checked against a re-implementation of the pltrdy/rouge
// 1.0.1 Python source run under CPython 3.11 (the printed repr is the
// literal written here where it is not an obvious fraction).
func TestHandWorked(t *testing.T) {
	cases := []struct {
		name     string
		hyp, ref string
		want     Scores
	}{
		{
			// Words: the cat sat on the mat; 5 distinct unigrams
			// {the,cat,sat,on,mat}, 5 distinct bigrams. Everything
			// overlaps: P = R = 1, F = 2*(1/(2+1e-8)) = 0.999999995.
			// ROUGE-L: m = n = 5 distinct words, the LCS is the whole
			// sentence, its word set has 5 words -> 5/5.
			name: "identical",
			hyp:  "the cat sat on the mat",
			ref:  "the cat sat on the mat",
			want: Scores{sc(1, 1, fOne), sc(1, 1, fOne), sc(1, 1, fOne)},
		},
		{
			// No overlap: P = R = 0, F = 2*(0/(0+0+1e-8)) = 0.
			name: "disjoint",
			hyp:  "a b c",
			ref:  "d e f",
			want: Scores{},
		},
		{
			// Set semantics. hyp unigrams {the, cat} (2), ref {the, cat}
			// (2), overlap 2 -> 1, 1. hyp bigrams {(the,the), (the,cat)}
			// (2), ref {(the,cat)} (1), overlap 1 -> P = 1/2, R = 1,
			// F = 2*(0.5/(1.5+1e-8)) = 0.6666666622222223.
			// ROUGE-L: n = 2, m = 2 distinct words; LCS(ref=[the cat],
			// hyp=[the the the cat]) = [the cat] -> 2 -> 1, 1.
			name: "repeated words",
			hyp:  "the the the cat",
			ref:  "the cat",
			want: Scores{sc(1, 1, fOne), sc(0.5, 1, 0.6666666622222223), sc(1, 1, fOne)},
		},
		{
			// Sentences: hyp ["the cat sat", "the dog ran"] (the empty
			// piece after the last '.' is dropped), ref ["the cat ran",
			// "a dog sat"]. Words are flattened across sentences.
			// Unigrams: hyp {the,cat,sat,dog,ran} = 5, ref
			// {the,cat,ran,a,dog,sat} = 6, overlap 5 -> P = 5/5 = 1,
			// R = 5/6 = 0.8333333333333334,
			// F = 2*(0.8333../(1.8333..+1e-8)) = 0.9090909041322315.
			// Bigrams (crossing the '.'): hyp {the-cat, cat-sat, sat-the,
			// the-dog, dog-ran}, ref {the-cat, cat-ran, ran-a, a-dog,
			// dog-sat}, overlap {the-cat} -> 1/5, 1/5,
			// F = 2*(0.04/(0.4+1e-8)) = 0.19999999500000015.
			// ROUGE-L: m = 6, n = 5.
			//   ref "the cat ran" x hyp "the cat sat" -> LCS "the cat"
			//   ref "the cat ran" x hyp "the dog ran" -> LCS "the ran"
			//     union {the, cat, ran}                      (+3)
			//   ref "a dog sat" x hyp "the cat sat" -> "sat"
			//   ref "a dog sat" x hyp "the dog ran" -> "dog"
			//     union {the, cat, ran, sat, dog}            (+2)
			//   llcs = 5 -> P = 5/5 = 1, R = 5/6.
			name: "multiple sentences",
			hyp:  "the cat sat. the dog ran.",
			ref:  "the cat ran. a dog sat.",
			want: Scores{
				sc(1, 0.8333333333333334, 0.9090909041322315),
				sc(0.2, 0.2, 0.19999999500000015),
				sc(1, 0.8333333333333334, 0.9090909041322315),
			},
		},
		{
			// " ".join(s.split()) collapses tabs, newlines and runs of
			// spaces and trims the ends: the hypothesis becomes
			// "the cat sat", identical to the reference.
			name: "extra whitespace",
			hyp:  "  the \t cat\n sat  ",
			ref:  "the cat sat",
			want: Scores{sc(1, 1, fOne), sc(1, 1, fOne), sc(1, 1, fOne)},
		},
		{
			// The rouge_score._union_lcs docstring example, plus a second
			// reference sentence.
			// hyp C = c1 "w1 w2 w6 w7 w8", c2 "w1 w3 w8 w9 w5":
			//   n = |{w1,w2,w6,w7,w8,w3,w9,w5}| = 8.
			// ref r1 "w1 w2 w3 w4 w5", r2 "w6 w7 w3":
			//   m = |{w1,w2,w3,w4,w5,w6,w7}| = 7.
			// r1 x c1 -> "w1 w2"; r1 x c2 -> "w1 w3 w5";
			//   union {w1,w2,w3,w5} (+4, the docstring's 4/5 for r1)
			// r2 x c1 -> "w6 w7"; r2 x c2 -> "w3" (already in);
			//   union {w1,w2,w3,w5,w6,w7} (+2)
			// llcs = 6: P = 6/8 = 0.75, R = 6/7 = 0.8571428571428571,
			// F = 2*(0.75*6/7)/(0.75+6/7+1e-8) = 0.7999999950222222.
			// ROUGE-1: hyp 8 distinct, ref 7, overlap
			// {w1,w2,w3,w5,w6,w7} = 6 -> same numbers.
			// ROUGE-2: hyp bigrams w1w2 w2w6 w6w7 w7w8 w8w1 w1w3 w3w8
			// w8w9 w9w5 (9), ref w1w2 w2w3 w3w4 w4w5 w5w6 w6w7 w7w3 (7),
			// overlap {w1w2, w6w7} -> 2/9 = 0.2222222222222222,
			// 2/7 = 0.2857142857142857, F = 0.24999999507812506.
			name: "union LCS over several reference sentences",
			hyp:  "w1 w2 w6 w7 w8. w1 w3 w8 w9 w5",
			ref:  "w1 w2 w3 w4 w5. w6 w7 w3.",
			want: Scores{
				sc(0.75, 0.8571428571428571, 0.7999999950222222),
				sc(0.2222222222222222, 0.2857142857142857, 0.24999999507812506),
				sc(0.75, 0.8571428571428571, 0.7999999950222222),
			},
		},
		{
			// LCS tie-breaking decides the union. ref r1 "a b", r2 "b";
			// hyp "b a". LCS(r1, hyp) has length 1 and could be "a" or
			// "b"; _recon_lcs at (i=2, j=2): b != a, table[1][2] = 1 is
			// not > table[2][1] = 1, so it moves left to (2, 1) where
			// b == b: it picks "b". r2 x hyp -> "b". union {b}, llcs = 1,
			// m = n = 2 -> P = R = 1/2, F = 2*(0.25/(1+1e-8)) =
			// 0.4999999950000001. (Picking "a" would have given 2/2.)
			// ROUGE-1: {a,b} vs {a,b} -> 1, 1. ROUGE-2: hyp {b-a}, ref
			// {a-b, b-b}, overlap 0 -> 0.
			name: "LCS tie-breaking",
			hyp:  "b a",
			ref:  "a b. b",
			want: Scores{sc(1, 1, fOne), sc(0, 0, 0), sc(0.5, 0.5, 0.4999999950000001)},
		},
		{
			// ROUGE-L is order sensitive where ROUGE-1 is not: LCS of
			// ref [the cat] and hyp [cat the] is picked as "cat" (same
			// tie rule), llcs = 1, m = n = 2 -> 1/2.
			name: "word order",
			hyp:  "cat the",
			ref:  "the cat",
			want: Scores{sc(1, 1, fOne), sc(0, 0, 0), sc(0.5, 0.5, 0.4999999950000001)},
		},
		{
			// No lowercasing: "The" != "the", "Cat" != "cat".
			name: "case sensitive",
			hyp:  "The Cat",
			ref:  "the cat",
			want: Scores{},
		},
		{
			// Only '.' splits sentences, also inside numbers, and the
			// comma stays glued to its word.
			// hyp sentences "It cost $1", "5 million", "Officials said so"
			//   words It cost $1 5 million Officials said so (8 distinct)
			// ref "Officials said it cost 1", "5 million dollars"
			//   words Officials said it cost 1 5 million dollars (8)
			// unigram overlap {cost, 5, million, Officials, said} = 5:
			//   5/8 = 0.625, F = 2*(0.390625/(1.25+1e-8)) = 0.624999995.
			// bigrams hyp: It-cost cost-$1 $1-5 5-million
			//   million-Officials Officials-said said-so (7);
			//   ref: Officials-said said-it it-cost cost-1 1-5 5-million
			//   million-dollars (7); overlap {5-million, Officials-said}
			//   -> 2/7, F = 0.2857142807142858.
			// ROUGE-L: the union of LCS words is again those 5 words.
			name: "dots inside numbers",
			hyp:  "It cost $1.5 million. Officials said so.",
			ref:  "Officials said it cost 1.5 million dollars.",
			want: Scores{
				sc(0.625, 0.625, 0.624999995),
				sc(0.2857142857142857, 0.2857142857142857, 0.2857142807142858),
				sc(0.625, 0.625, 0.624999995),
			},
		},
		{
			// A whitespace-only piece between two dots survives the
			// len(_) > 0 filter and becomes the empty sentence "", which
			// contributes the empty word: hyp words [a, "", b].
			// unigrams hyp {a, "", b} (3), ref {a, b} (2), overlap 2 ->
			// P = 2/3, R = 1, F = 2*((2/3)/(5/3+1e-8)) = 0.7999999952000001.
			// bigrams hyp {a-"", ""-b}, ref {a-b}: overlap 0.
			// ROUGE-L: n = 3, m = 2; ref "a b" x "a" -> a, x "" -> none,
			// x "b" -> b; llcs = 2 -> 2/3, 1.
			name: "whitespace-only sentence yields an empty word",
			hyp:  "a. . b",
			ref:  "a b",
			want: Scores{
				sc(0.6666666666666666, 1, 0.7999999952000001),
				sc(0, 0, 0),
				sc(0.6666666666666666, 1, 0.7999999952000001),
			},
		},
		{
			// Python's str.split() also splits on U+00A0, U+001C and
			// U+3000 (so the hypothesis becomes "a b c d"), but not on
			// U+200B (zero-width space), tested below.
			name: "python whitespace set",
			hyp:  "a\u00a0b\u001cc\u3000d",
			ref:  "a b c d",
			want: Scores{sc(1, 1, fOne), sc(1, 1, fOne), sc(1, 1, fOne)},
		},
		{
			name: "zero-width space is not whitespace",
			hyp:  "a\u200bb",
			ref:  "a b",
			want: Scores{},
		},
		{
			// A generation shaped like the recipe's (leading space,
			// trailing newline) against an XSUM reference.
			// hyp pieces: "A man ... Edinburgh" and "\n"; the "\n" piece
			// has length 1, survives, and becomes the empty sentence.
			// hyp words: A man has appeared in court after guns were
			//   seized in Edinburgh "" (13 words, "in" twice): 12 distinct.
			// ref: the piece after the final '.' is "" and is dropped;
			//   17 words ("in" twice, "firearms," keeps its comma): 16
			//   distinct.
			// unigram overlap {A, man, has, appeared, in, court, after,
			//   were, seized, Edinburgh} = 10 -> P = 10/12, R = 10/16.
			// bigrams: hyp 12 (incl. Edinburgh-""), ref 16, overlap
			//   {A-man, man-has, has-appeared, appeared-in, in-court,
			//   court-after, were-seized, in-Edinburgh} = 8 -> 8/12, 8/16.
			// ROUGE-L: n = 12, m = 16; LCS(ref, hyp sentence 1) = "A man
			//   has appeared in court after were seized in Edinburgh" =
			//   10 distinct words; LCS(ref, "") is empty -> 10/12, 10/16.
			// F = 2*(P*R)/(P+R+1e-8) printed by CPython.
			name: "recipe-shaped generation",
			hyp:  " A man has appeared in court after guns were seized in Edinburgh.\n",
			ref:  "A man has appeared in court after firearms, ammunition and cash were seized by police in Edinburgh.",
			want: Scores{
				sc(0.8333333333333334, 0.625, 0.7142857093877552),
				sc(0.6666666666666666, 0.5, 0.5714285665306124),
				sc(0.8333333333333334, 0.625, 0.7142857093877552),
			},
		},
		{
			// Real XSUM reference from the recipe's xsum_0shot.jsonl and a
			// plausible model summary; values from CPython.
			name: "xsum reference",
			hyp:  "Prison leavers in Wales are struggling to find housing, a charity has said.",
			ref:  "There is a \"chronic\" need for more housing for prison leavers in Wales, according to a charity.",
			want: Scores{
				sc(0.38461538461538464, 0.3333333333333333, 0.35714285216836733),
				sc(0.16666666666666666, 0.125, 0.14285713795918387),
				sc(0.38461538461538464, 0.3333333333333333, 0.35714285216836733),
			},
		},
	}
	for _, c := range cases {
		got, err := Compute(c.hyp, c.ref)
		if err != nil {
			t.Errorf("%s: unexpected error %v", c.name, err)
			continue
		}
		checkScores(t, c.name, got, c.want)
	}
}

// The comments above quote Python's F values; make sure they really are
// what the formula gives (guards against typos in the literals).
func TestFormulaLiterals(t *testing.T) {
	for _, c := range []struct{ p, r, f float64 }{
		{1, 1, fOne},
		{0.5, 1, 0.6666666622222223},
		{1, 5.0 / 6, 0.9090909041322315},
		{0.2, 0.2, 0.19999999500000015},
		{0.75, 6.0 / 7, 0.7999999950222222},
		{2.0 / 9, 2.0 / 7, 0.24999999507812506},
		{0.5, 0.5, 0.4999999950000001},
		{2.0 / 3, 1, 0.7999999952000001},
		{0, 0, 0},
	} {
		if got := f1ref(c.p, c.r); got != c.f {
			t.Errorf("f1(%v, %v) = %v, want %v", c.p, c.r, got, c.f)
		}
		if got := f1(c.p, c.r); got != c.f {
			t.Errorf("package f1(%v, %v) = %v, want %v", c.p, c.r, got, c.f)
		}
	}
}

func TestEmptyErrors(t *testing.T) {
	for _, c := range []struct {
		hyp, ref string
		want     error
	}{
		{"", "a", ErrHypothesisEmpty},
		{"", "", ErrHypothesisEmpty}, // hypothesis is checked first
		{"a", "", ErrReferenceEmpty},
		{"a", "...", ErrReferenceEmpty},
	} {
		s, err := Compute(c.hyp, c.ref)
		if !errors.Is(err, c.want) {
			t.Errorf("Compute(%q, %q) error = %v, want %v", c.hyp, c.ref, err, c.want)
		}
		if s != (Scores{}) {
			t.Errorf("Compute(%q, %q) returned non-zero scores with an error", c.hyp, c.ref)
		}
	}
	if ErrHypothesisEmpty.Error() != "Hypothesis is empty." {
		t.Errorf("message %q differs from Python's", ErrHypothesisEmpty.Error())
	}
	if ErrReferenceEmpty.Error() != "Reference is empty." {
		t.Errorf("message %q differs from Python's", ErrReferenceEmpty.Error())
	}
}

func TestOnlyDots(t *testing.T) {
	// "." and "..." split into pieces that are all of length 0, so the
	// hypothesis has no sentence: ValueError("Hypothesis is empty.").
	for _, h := range []string{".", "..", "...", "......"} {
		if _, err := Compute(h, "a b"); !errors.Is(err, ErrHypothesisEmpty) {
			t.Errorf("Compute(%q) error = %v, want ErrHypothesisEmpty", h, err)
		}
	}

	// ". ." splits into ["", " ", ""]; the " " piece survives and is
	// normalised to "", so the hypothesis is one empty sentence, words
	// [""]. Against "a b": unigrams {""} vs {a, b}: 0. Bigrams: hyp has
	// none -> P = 0 (edge case), overlap 0 -> R = 0. ROUGE-L: m = 2,
	// n = 1, no common word -> 0.
	got, err := Compute(". .", "a b")
	if err != nil {
		t.Fatal(err)
	}
	checkScores(t, `". ." vs "a b"`, got, Scores{})

	// Against itself: unigrams {""} vs {""} -> 1, 1, F = 0.999999995.
	// Bigrams: both sides have 0 bigrams -> P = R = 0 (not 1!), F = 0.
	// ROUGE-L: LCS([""], [""]) = [""], llcs = 1, m = n = 1 -> 1, 1.
	got, err = Compute(". .", ". .")
	if err != nil {
		t.Fatal(err)
	}
	checkScores(t, `". ." vs ". ."`, got, Scores{sc(1, 1, fOne), sc(0, 0, 0), sc(1, 1, fOne)})

	// Whitespace only (no dot) is likewise one empty sentence, not an
	// error.
	got, err = Compute(" \n", "x")
	if err != nil {
		t.Fatal(err)
	}
	checkScores(t, `" \n" vs "x"`, got, Scores{})
}

func TestSingleWordRouge2(t *testing.T) {
	// One word on each side: no bigrams at all -> ROUGE-2 is 0/0/0 even
	// for identical texts (f_r_p_rouge_n's edge case).
	got, err := Compute("hello", "hello")
	if err != nil {
		t.Fatal(err)
	}
	checkScores(t, "single word", got, Scores{sc(1, 1, fOne), sc(0, 0, 0), sc(1, 1, fOne)})
}

// pySpace is every code point c with chr(c).isspace() in CPython 3.11, the
// set str.split() splits on.
var pySpace = []rune{
	0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0,
	0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007,
	0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
}

func TestPySpace(t *testing.T) {
	want := make(map[rune]bool)
	for _, r := range pySpace {
		want[r] = true
	}
	for r := rune(0); r <= 0x10ffff; r++ {
		if isPySpace(r) != want[r] {
			t.Errorf("isPySpace(%U) = %v, want %v", r, isPySpace(r), want[r])
		}
	}
}

func TestComputeAvg(t *testing.T) {
	// avg=True sums each of the nine numbers in pair order and divides by
	// the count. Pair 1 = "identical" case, pair 2 = "disjoint" case:
	// P = (1 + 0)/2 = 0.5, F = (0.999999995 + 0)/2 = 0.4999999975.
	got, err := ComputeAvg(
		[]string{"the cat sat on the mat", "a b c"},
		[]string{"the cat sat on the mat", "d e f"})
	if err != nil {
		t.Fatal(err)
	}
	half := sc(0.5, 0.5, fOne/2)
	checkScores(t, "avg", got, Scores{half, half, half})

	// One pair: equal to Compute.
	one, _ := Compute("the the the cat", "the cat")
	got, err = ComputeAvg([]string{"the the the cat"}, []string{"the cat"})
	if err != nil {
		t.Fatal(err)
	}
	checkScores(t, "avg of one", got, one)

	if _, err := ComputeAvg(nil, nil); !errors.Is(err, ErrNoPairs) {
		t.Errorf("empty avg error = %v", err)
	}
	if _, err := ComputeAvg([]string{"a"}, nil); !errors.Is(err, ErrLengthMismatch) {
		t.Errorf("mismatch error = %v", err)
	}
	_, err = ComputeAvg([]string{"a", "..."}, []string{"a", "b"})
	var pe *PairError
	if !errors.Is(err, ErrHypothesisEmpty) || !errors.As(err, &pe) || pe.Index != 1 {
		t.Errorf("avg with empty hypothesis: error = %v", err)
	}
	if err != nil && err.Error() != "rouge: pair 1: Hypothesis is empty." {
		t.Errorf("PairError message = %q", err.Error())
	}
}

func TestMean(t *testing.T) {
	if !math.IsNaN(Mean(nil)) {
		t.Errorf("Mean(nil) should be NaN like np.mean([])")
	}
	// Fewer than 8 values: plain left-to-right sum.
	// (Go constant arithmetic is exact, so compute the reference from
	// float64 variables: ((0 + 0.1) + 0.2) + 0.3 = 0.6000000000000001.)
	a, b, c := 0.1, 0.2, 0.3
	if got, want := Mean([]float64{a, b, c}), (((0+a)+b)+c)/3; got != want || got != 0.20000000000000004 {
		t.Errorf("Mean small = %v, want %v", got, want)
	}
	// 16 values: 1 followed by fifteen 2^-53. A left-to-right sum stays at
	// 1 (1 + 2^-53 rounds back to 1 every time). numpy's pairwise sum uses
	// 8 accumulators: r0 = 1 + 2^-53 -> 1, r1..r7 = 2*2^-53 = 2^-52 each;
	// ((r0+r1) + (r2+r3)) + ((r4+r5) + (r6+r7))
	//   = ((1+2^-52) + 2^-51) + (2^-51 + 2^-51) = 1 + 7*2^-52, all exact.
	// Mean = (1 + 7*2^-52)/16, exact.
	xs := make([]float64, 16)
	xs[0] = 1
	for i := 1; i < 16; i++ {
		xs[i] = 0x1p-53
	}
	if got, want := Mean(xs), (1+7*0x1p-52)/16; got != want {
		t.Errorf("Mean pairwise = %b, want %b", got, want)
	}
	// More than 128 values split recursively at n/2 rounded down to a
	// multiple of 8: 200 -> 96 + 104. Ones sum exactly, whatever the order.
	ones := make([]float64, 200)
	for i := range ones {
		ones[i] = 1
	}
	if got := Mean(ones); got != 1 {
		t.Errorf("Mean(ones) = %v", got)
	}
}

func TestLongSentenceNoRecursionLimit(t *testing.T) {
	// CPython's recursive _recon_lcs would hit RecursionError here; the
	// score itself is still well defined: identical 3000-word texts with
	// 3000 distinct words.
	words := make([]byte, 0, 3000*6)
	for i := 0; i < 3000; i++ {
		if i > 0 {
			words = append(words, ' ')
		}
		words = append(words, 'w')
		words = strconv.AppendInt(words, int64(i), 10)
	}
	got, err := Compute(string(words), string(words))
	if err != nil {
		t.Fatal(err)
	}
	checkScores(t, "long", got, Scores{sc(1, 1, fOne), sc(1, 1, fOne), sc(1, 1, fOne)})
}
