package summarize

import (
	"errors"
	"fmt"

	"github.com/h2o-kv/h2o/internal/enum"
	"github.com/h2o-kv/h2o/rouge"
)

// EmptyPolicy says what an empty generation (no sentence for ROUGE: "" or
// only dots) does. The recipe does not catch rouge's ValueError, so one empty
// generation kills its whole run.
type EmptyPolicy string

const (
	// EmptyZero scores the sample 0 on every metric and counts it (default):
	// an empty summary shares nothing with the reference, and in a budget
	// sweep a policy that makes the model fall silent must pay for it, which
	// leaving the sample out would hide.
	EmptyZero EmptyPolicy = "zero"
	// EmptySkip leaves the sample out of the averages (the rouge package's
	// suggestion); the count is reported next to the averages.
	EmptySkip EmptyPolicy = "skip"
	// EmptyFail stops the run, as the recipe does.
	EmptyFail EmptyPolicy = "fail"
)

// ParseEmptyPolicy accepts zero, skip and fail ("" = zero).
func ParseEmptyPolicy(s string) (EmptyPolicy, error) {
	return enum.Parse("empty-generation policy", s, EmptyZero, EmptyZero, EmptySkip, EmptyFail)
}

// ErrEmptyGeneration is returned under EmptyFail.
var ErrEmptyGeneration = errors.New("empty generation: ROUGE is undefined (the recipe crashes here; use --on-empty zero or skip to go on)")

// score computes ROUGE of one generation. It returns nil scores for a
// skipped sample and empty = true for an empty generation.
func score(text, ref string, p EmptyPolicy) (r *RougeF, empty bool, err error) {
	s, err := rouge.Compute(text, ref)
	if errors.Is(err, rouge.ErrHypothesisEmpty) {
		switch p {
		case EmptySkip:
			return nil, true, nil
		case EmptyFail:
			return nil, true, ErrEmptyGeneration
		}
		return &RougeF{}, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	return &RougeF{Rouge1: prf(s.Rouge1), Rouge2: prf(s.Rouge2), RougeL: prf(s.RougeL)}, false, nil
}

func prf(s rouge.Score) PRF { return PRF{F: s.F, P: s.P, R: s.R} }

// Averages are the running means of the F scores, as the recipe prints them.
type Averages struct {
	r1, r2, rl []float64
}

// Add counts one scored sample (nil: left out).
func (a *Averages) Add(r *RougeF) {
	if r == nil {
		return
	}
	a.r1 = append(a.r1, r.Rouge1.F)
	a.r2 = append(a.r2, r.Rouge2.F)
	a.rl = append(a.rl, r.RougeL.F)
}

// N is the number of scored samples.
func (a *Averages) N() int { return len(a.r1) }

// Rouge1 is np.mean of the ROUGE-1 F scores (NaN with no sample).
func (a *Averages) Rouge1() float64 { return rouge.Mean(a.r1) }

// Rouge2 is np.mean of the ROUGE-2 F scores.
func (a *Averages) Rouge2() float64 { return rouge.Mean(a.r2) }

// RougeL is np.mean of the ROUGE-L F scores.
func (a *Averages) RougeL() float64 { return rouge.Mean(a.rl) }

// Running is the line the recipe prints after every sample.
func (a *Averages) Running() string {
	return fmt.Sprintf("rouge-1: %.6f, rouge-2: %.6f, rouge-l: %.6f", a.Rouge1(), a.Rouge2(), a.RougeL())
}

// Final is the closing line of a run.
func (a *Averages) Final() string {
	return fmt.Sprintf("Average Rouge1: %.6f, Rouge-2: %.6f, Rouge-l: %.6f", a.Rouge1(), a.Rouge2(), a.RougeL())
}
