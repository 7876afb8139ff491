// Package rouge computes ROUGE-1, ROUGE-2 and ROUGE-L exactly the way the
// Python package "rouge" by pltrdy (PyPI rouge==1.0.1,
// github.com/pltrdy/rouge, files rouge/rouge.py and rouge/rouge_score.py)
// does with its defaults:
//
//	from rouge import Rouge
//	Rouge().get_scores(hyp, ref)[0]          // Compute
//	Rouge().get_scores(hyps, refs, avg=True)  // ComputeAvg
//
// This is the scorer used by the H2O authors' summarization recipe
// (FMInference/H2O h2o_hf/run_summarization.py), which keeps only the "f"
// value of each metric and averages those with np.mean (see Mean).
//
// # What the Python code does (and this package mirrors)
//
// Preprocessing (rouge.py, Rouge._get_scores), for hyp and ref alike:
//
//	hyp = [" ".join(_.split()) for _ in hyp.split(".") if len(_) > 0]
//
// The text is split on every '.' (and only '.'); pieces of length zero are
// dropped BEFORE whitespace normalisation, so a piece made only of
// whitespace survives as the empty sentence "". Each surviving piece has its
// runs of Python whitespace (what str.split() with no argument splits on: the
// Unicode White_Space characters plus U+001C..U+001F) collapsed to single
// spaces and leading/trailing whitespace removed.
// Nothing is lowercased, no punctuation other than '.' is touched, no
// stemming, no stop words.
//
// Words (rouge_score._split_into_words): every sentence is split on " " and
// the lists are concatenated, so n-grams cross sentence boundaries and the
// empty sentence contributes one empty word "".
//
// ROUGE-N (rouge_score.rouge_n with exclusive=True): the n-grams of each side
// are collected in a Python set (duplicates count once); overlap is the size
// of the set intersection; then f_r_p_rouge_n:
//
//	P = overlap/len(hyp n-grams)   (0.0 if hyp has no n-gram)
//	R = overlap/len(ref n-grams)   (0.0 if ref has no n-gram)
//	F = 2.0 * ((P * R) / (P + R + 1e-8))
//
// ROUGE-L (rouge_score.rouge_l_summary_level with exclusive=True):
//
//	m = number of DISTINCT words in the reference
//	n = number of DISTINCT words in the hypothesis
//	for every reference sentence r, for every hypothesis sentence c:
//	    union |= set(words of one LCS of (r, c))   // union of WORDS, not positions
//	llcs = len(union)   // the per-reference increments telescope to this
//	R = llcs/m, P = llcs/n, F = 2.0 * ((P * R) / (P + R + 1e-8))
//
// The LCS word list is reconstructed by _recon_lcs with its exact
// tie-breaking (match first, else go up only if table[i-1][j] >
// table[i][j-1], else go left); which LCS is picked changes which words enter
// the union, so the tie-breaking is reproduced exactly.
//
// The arithmetic is done in float64 in the same order as the Python code, so
// results are bit-for-bit identical to CPython's.
//
// # Errors
//
// When the hypothesis has no sentence after preprocessing (it is "" or made
// only of '.' characters, e.g. "..."), Python raises ValueError("Hypothesis is
// empty."); Compute returns ErrHypothesisEmpty. Likewise for the reference
// (ErrReferenceEmpty). The hypothesis is checked first, as in Python. Note
// that a hypothesis made only of whitespace (e.g. " ") or of dots separated
// by whitespace (e.g. ". .") is NOT empty for Python: it yields the empty
// word "" and scores normally (usually 0).
//
// What callers should do: the H2O recipe does not catch the ValueError, so
// one empty generation aborts the whole run (the sample never enters the
// means). A CLI that wants exact parity should stop the same way. A CLI that
// prefers to keep going should test errors.Is(err, ErrHypothesisEmpty), count
// the sample as skipped (not as 0, which would change the mean) and report the
// number of skipped samples next to the averages, so the deviation from the
// recipe is visible. Never substitute a placeholder hypothesis: it would
// produce non-zero, non-reference scores.
//
// # Source version
//
// Written against pltrdy/rouge rouge/rouge.py (commit 53a6fc59, the version
// with metrics rouge-1..5, return_lengths, raw_results and exclusive) and
// rouge/rouge_score.py (commit 12ed0ade, with the Ngrams class, the
// "Hypothesis is empty." message and F = 2PR/(P+R+1e-8) for ROUGE-L). Older
// 0.x releases differ: they raise "Collections must contain at least 1
// sentence." and compute the ROUGE-L F with a beta = P/(R+1e-12) formula.
//
// # Known differences from CPython
//
// Python's _recon_lcs is recursive; for a sentence pair whose combined length
// approaches CPython's recursion limit (about 1000 words in total) Python dies
// with RecursionError. This package has no such limit and just returns the
// score. Python compares code points and Go compares bytes; for valid UTF-8
// input this is the same thing. Invalid UTF-8 bytes are kept as they are and
// are never treated as whitespace.
package rouge

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// ErrHypothesisEmpty mirrors rouge_score.rouge_n's
// ValueError("Hypothesis is empty."): the hypothesis has no sentence after
// splitting on '.' and dropping zero-length pieces.
var ErrHypothesisEmpty = errors.New("Hypothesis is empty.")

// ErrReferenceEmpty mirrors ValueError("Reference is empty."). It is only
// returned when the hypothesis is not empty.
var ErrReferenceEmpty = errors.New("Reference is empty.")

// ErrNoPairs mirrors the ZeroDivisionError of get_scores([], [], avg=True).
var ErrNoPairs = errors.New("rouge: no hypothesis/reference pairs to average")

// ErrLengthMismatch mirrors the AssertionError of get_scores when
// len(hyps) != len(refs).
var ErrLengthMismatch = errors.New("rouge: hyps and refs have different lengths")

// Score is one metric: precision, recall and F (the Python "p", "r", "f").
type Score struct{ P, R, F float64 }

// Scores holds the three default metrics ("rouge-1", "rouge-2", "rouge-l").
type Scores struct{ Rouge1, Rouge2, RougeL Score }

// Compute returns the scores of one hypothesis against one reference, the
// same values as Rouge().get_scores(hyp, ref)[0] of pltrdy/rouge 1.0.1.
// It keeps no state and is safe for concurrent use.
// It returns ErrHypothesisEmpty or ErrReferenceEmpty where Python raises
// ValueError; see the package documentation for what to do then.
func Compute(hyp, ref string) (Scores, error) {
	h := sentences(hyp)
	r := sentences(ref)
	if len(h) == 0 {
		return Scores{}, ErrHypothesisEmpty
	}
	if len(r) == 0 {
		return Scores{}, ErrReferenceEmpty
	}
	hw := splitIntoWords(h)
	rw := splitIntoWords(r)
	return Scores{
		Rouge1: rougeN(hw, rw, 1),
		Rouge2: rougeN(hw, rw, 2),
		RougeL: rougeLSummaryLevel(h, r, hw, rw),
	}, nil
}

// ComputeAvg mirrors Rouge().get_scores(hyps, refs, avg=True): every pair is
// scored, each of the nine numbers is summed in pair order starting from 0
// and divided by the number of pairs. The first failing pair aborts the call
// (as the Python exception does); the returned error wraps the Compute error
// and names the pair index.
//
// Note: the H2O recipe does not use avg=True; it averages per-sample F values
// with np.mean, which sums pairwise. Use Mean for that.
func ComputeAvg(hyps, refs []string) (Scores, error) {
	if len(hyps) != len(refs) {
		return Scores{}, ErrLengthMismatch
	}
	if len(hyps) == 0 {
		return Scores{}, ErrNoPairs
	}
	var sum Scores
	for i := range hyps {
		s, err := Compute(hyps[i], refs[i])
		if err != nil {
			return Scores{}, &PairError{Index: i, Err: err}
		}
		sum.Rouge1 = addScore(sum.Rouge1, s.Rouge1)
		sum.Rouge2 = addScore(sum.Rouge2, s.Rouge2)
		sum.RougeL = addScore(sum.RougeL, s.RougeL)
	}
	c := float64(len(hyps))
	return Scores{
		Rouge1: divScore(sum.Rouge1, c),
		Rouge2: divScore(sum.Rouge2, c),
		RougeL: divScore(sum.RougeL, c),
	}, nil
}

// PairError reports which pair of a ComputeAvg call failed.
type PairError struct {
	Index int
	Err   error
}

func (e *PairError) Error() string {
	return "rouge: pair " + strconv.Itoa(e.Index) + ": " + e.Err.Error()
}

// Unwrap lets errors.Is(err, ErrHypothesisEmpty) see through a PairError.
func (e *PairError) Unwrap() error { return e.Err }

func addScore(a, b Score) Score { return Score{P: a.P + b.P, R: a.R + b.R, F: a.F + b.F} }

func divScore(a Score, c float64) Score { return Score{P: a.P / c, R: a.R / c, F: a.F / c} }

// sentences is
//
//	[" ".join(_.split()) for _ in s.split(".") if len(_) > 0]
func sentences(s string) []string {
	var out []string
	for _, piece := range strings.Split(s, ".") {
		if len(piece) == 0 {
			continue
		}
		out = append(out, strings.Join(strings.FieldsFunc(piece, isPySpace), " "))
	}
	return out
}

// isPySpace reports whether CPython's str.split() (no argument) and
// str.isspace() treat r as whitespace: Go's unicode.IsSpace set (the Unicode
// White_Space property: \t \n \v \f \r, space, U+0085, U+00A0, U+1680,
// U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000) plus the ASCII
// separators U+001C..U+001F, which Python also counts as whitespace.
func isPySpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ',
		0x1c, 0x1d, 0x1e, 0x1f,
		0x85, 0xa0, 0x1680,
		0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// splitIntoWords is list(itertools.chain(*[_.split(" ") for _ in sentences])).
// An empty sentence yields one empty word.
func splitIntoWords(sents []string) []string {
	var words []string
	for _, s := range sents {
		words = append(words, strings.Split(s, " ")...)
	}
	return words
}

// ngramSet is _get_ngrams(n, words) with exclusive=True: a set of n-grams.
// Words never contain a space (they come from splitting on " "), so joining
// the n words of an n-gram with " " is an injective key for a fixed n.
func ngramSet(words []string, n int) map[string]struct{} {
	set := make(map[string]struct{})
	for i := 0; i+n <= len(words); i++ {
		set[strings.Join(words[i:i+n], " ")] = struct{}{}
	}
	return set
}

// rougeN is rouge_score.rouge_n(hyp, ref, n) on already split words.
func rougeN(hypWords, refWords []string, n int) Score {
	h := ngramSet(hypWords, n)
	r := ngramSet(refWords, n)
	overlap := 0
	for g := range h {
		if _, ok := r[g]; ok {
			overlap++
		}
	}
	return fRP(len(h), len(r), overlap)
}

// fRP is rouge_score.f_r_p_rouge_n.
func fRP(evaluated, reference, overlapping int) Score {
	var p, r float64
	if evaluated != 0 {
		p = float64(overlapping) / float64(evaluated)
	}
	if reference != 0 {
		r = float64(overlapping) / float64(reference)
	}
	return Score{P: p, R: r, F: f1(p, r)}
}

// f1 is 2.0 * ((p * r) / (p + r + 1e-8)), evaluated in Python's order. The
// explicit float64 conversions forbid any fused multiply-add.
func f1(p, r float64) float64 {
	num := float64(p * r)
	den := float64(float64(p+r) + 1e-8)
	return float64(2.0 * float64(num/den))
}

// rougeLSummaryLevel is rouge_score.rouge_l_summary_level(hyp, ref) with
// exclusive=True.
func rougeLSummaryLevel(hypSents, refSents, hypWords, refWords []string) Score {
	m := len(distinct(refWords))
	n := len(distinct(hypWords))

	// Intern words so the LCS compares ints.
	ids := make(map[string]int32)
	var vocab []string
	intern := func(ws []string) []int32 {
		out := make([]int32, len(ws))
		for i, w := range ws {
			id, ok := ids[w]
			if !ok {
				id = int32(len(vocab))
				ids[w] = id
				vocab = append(vocab, w)
			}
			out[i] = id
		}
		return out
	}
	hyps := make([][]int32, len(hypSents))
	for i, s := range hypSents {
		hyps[i] = intern(strings.Split(s, " "))
	}

	union := make(map[int32]struct{})
	llcs := 0
	var table []int32
	for _, rs := range refSents {
		ref := intern(strings.Split(rs, " "))
		prev := len(union)
		for _, hyp := range hyps {
			table = reconLCS(ref, hyp, table, union)
		}
		llcs += len(union) - prev
	}

	// m, n >= 1: every sentence yields at least one (possibly empty) word.
	r := float64(llcs) / float64(m)
	p := float64(llcs) / float64(n)
	return Score{P: p, R: r, F: f1(p, r)}
}

func distinct(ws []string) map[string]struct{} {
	set := make(map[string]struct{}, len(ws))
	for _, w := range ws {
		set[w] = struct{}{}
	}
	return set
}

// reconLCS computes rouge_score._lcs(x, y) and walks it back exactly like
// _recon_lcs, adding the words of the reconstructed LCS to union. x is the
// reference sentence, y the hypothesis sentence (the Python argument order).
// table is scratch space, returned for reuse.
func reconLCS(x, y []int32, table []int32, union map[int32]struct{}) []int32 {
	n, m := len(x), len(y)
	w := m + 1
	size := (n + 1) * w
	if cap(table) < size {
		table = make([]int32, size)
	}
	table = table[:size]
	for j := 0; j <= m; j++ {
		table[j] = 0
	}
	for i := 1; i <= n; i++ {
		row := table[i*w : (i+1)*w]
		up := table[(i-1)*w : i*w]
		row[0] = 0
		xi := x[i-1]
		for j := 1; j <= m; j++ {
			if xi == y[j-1] {
				row[j] = up[j-1] + 1
			} else if up[j] >= row[j-1] {
				row[j] = up[j]
			} else {
				row[j] = row[j-1]
			}
		}
	}
	// _recon(i, j):
	//   if i == 0 or j == 0: []
	//   elif x[i-1] == y[j-1]: _recon(i-1, j-1) + [x[i-1]]
	//   elif table[i-1, j] > table[i, j-1]: _recon(i-1, j)
	//   else: _recon(i, j-1)
	i, j := n, m
	for i > 0 && j > 0 {
		switch {
		case x[i-1] == y[j-1]:
			union[x[i-1]] = struct{}{}
			i--
			j--
		case table[(i-1)*w+j] > table[i*w+j-1]:
			i--
		default:
			j--
		}
	}
	return table
}

// Mean returns np.mean(xs) for a list of Python floats, bit for bit: numpy
// converts the list to a float64 array, sums it with its pairwise summation
// (blocks of at most 128 elements summed with 8 interleaved accumulators) and
// divides by len(xs). This is how run_summarization.py averages the per-sample
// F scores it prints. Mean of an empty slice is NaN, as in numpy (which also
// warns).
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	// umr_sum starts from the additive identity 0.0 and adds the pairwise sum.
	return (0.0 + pairwiseSum(xs)) / float64(len(xs))
}

// pairwiseSum is numpy's DOUBLE_pairwise_sum (numpy/core/src/umath/loops_utils.h.src)
// with PW_BLOCKSIZE 128.
func pairwiseSum(a []float64) float64 {
	n := len(a)
	switch {
	case n < 8:
		res := 0.0
		for i := 0; i < n; i++ {
			res += a[i]
		}
		return res
	case n <= 128:
		var r [8]float64
		copy(r[:], a[:8])
		i := 8
		for ; i < n-(n%8); i += 8 {
			r[0] += a[i+0]
			r[1] += a[i+1]
			r[2] += a[i+2]
			r[3] += a[i+3]
			r[4] += a[i+4]
			r[5] += a[i+5]
			r[6] += a[i+6]
			r[7] += a[i+7]
		}
		res := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			res += a[i]
		}
		return res
	default:
		n2 := n / 2
		n2 -= n2 % 8
		return pairwiseSum(a[:n2]) + pairwiseSum(a[n2:])
	}
}
