package session

import (
	"errors"
	"math"
	"strings"
	"time"

	"github.com/h2o-kv/h2o/binding"
)

// GenOptions bound one generation.
type GenOptions struct {
	MaxTokens int      // new tokens at most (0 = until EOS or the context ends)
	Stop      []string // generation ends at the first stop string, which is cut
	Sampling  Sampling
	// TextOnly keeps only the text (and the token count): no per-token
	// records (so no log-probabilities either), so memory grows by the text
	// alone in a long generation.
	TextOnly bool
	// IgnoreEOS keeps generating after end-of-generation tokens (speed
	// measurements need exactly MaxTokens).
	IgnoreEOS bool
}

// FinishReason says why a generation ended.
type FinishReason string

const (
	FinishStop   FinishReason = "stop"   // EOS or a stop string
	FinishLength FinishReason = "length" // MaxTokens reached
)

// Result is one generation.
type Result struct {
	Text        string // generated text, cut at the first stop string
	NTokens     int    // tokens generated
	Tokens      []int32
	Pieces      []string // text of each token
	Logprobs    []float64
	TopLogprobs [][]TokenLogprob // per token, if Sampling.TopLogprobs > 0
	Offsets     []int            // byte offset of each piece in the generated text
	Finish      FinishReason
	Duration    time.Duration
}

// Generate samples up to opts.MaxTokens tokens after the current cache (call
// Feed with the prompt first). onPiece, if set, receives each token's text as
// it is produced and may return false to stop.
func (s *Session) Generate(opts GenOptions, onPiece func(piece string) bool) (Result, error) {
	g := newGeneration(opts, s.model)
	for {
		logits := s.Logits()
		if logits == nil {
			break
		}
		tok, more := g.next(logits, onPiece)
		if g.err != nil {
			return g.result(), g.err
		}
		if !more {
			break
		}
		if err := s.Step(tok); err != nil {
			return g.result(), err
		}
	}
	return g.result(), nil
}

// generation is one generation in progress: it samples from the logits it
// is given, records tokens and decides when to stop. Session.Generate and
// the Batcher share it, so a batched generation equals a sequential one.
type generation struct {
	opts    GenOptions
	model   *binding.Model
	sampler *Sampler
	res     Result
	text    strings.Builder
	start   time.Time
	cut     bool // res.Text was cut at a stop string
	err     error
}

// ErrNotFinite is returned when the logits hold no finite value: the
// model's weights are broken (NaN), and sampling would pick noise.
var ErrNotFinite = errors.New("the logits are not finite (NaN or Inf weights?)")

func newGeneration(opts GenOptions, m *binding.Model) *generation {
	g := &generation{opts: opts, model: m, sampler: NewSampler(opts.Sampling), res: Result{Finish: FinishLength}, start: time.Now()}
	g.sampler.noLogprob = opts.TextOnly // logprobs are per-token records
	return g
}

// atLimit reports whether MaxTokens tokens were generated.
func (g *generation) atLimit() bool {
	return g.opts.MaxTokens > 0 && g.res.NTokens >= g.opts.MaxTokens
}

// next samples a token from logits and records it. more is false when the
// generation ended (limit reached before sampling, EOS, a stop string, or
// onPiece declining); otherwise tok must be decoded before the next call.
func (g *generation) next(logits []float32, onPiece func(string) bool) (tok int32, more bool) {
	if g.atLimit() {
		return 0, false
	}
	tok, lp, top := g.sampler.Sample(logits)
	return g.take(tok, lp, top, onPiece)
}

// greedyID reports whether the generation needs only the index of the
// largest logit (greedy, and no log-probabilities read): what a backend can
// compute next to the logits (binding.Context.SetOutputArgmax).
func (g *generation) greedyID() bool {
	return g.sampler.greedyOnly()
}

// nextID is next for a token chosen as the largest logit elsewhere (greedyID).
func (g *generation) nextID(tok int32, onPiece func(string) bool) (int32, bool) {
	if g.atLimit() {
		return 0, false
	}
	return g.take(tok, math.NaN(), nil, onPiece)
}

// take records a sampled token (tok < 0: no logit was finite).
func (g *generation) take(tok int32, lp float64, top []TokenLogprob, onPiece func(string) bool) (int32, bool) {
	if tok < 0 {
		g.err = ErrNotFinite
		return 0, false
	}
	if !g.opts.IgnoreEOS && g.model.IsEOG(tok) {
		g.res.Finish = FinishStop
		return 0, false
	}
	piece := g.model.Piece(tok, false)
	g.res.NTokens++
	if !g.opts.TextOnly {
		g.res.Tokens = append(g.res.Tokens, tok)
		g.res.Pieces = append(g.res.Pieces, piece)
		g.res.Logprobs = append(g.res.Logprobs, lp)
		if top != nil {
			g.res.TopLogprobs = append(g.res.TopLogprobs, top)
		}
		g.res.Offsets = append(g.res.Offsets, g.text.Len())
	}
	prev := g.text.Len()
	g.text.WriteString(piece)
	// No stop string was in the text before this piece: only a window
	// ending in the new piece can hold one (no rescan of the whole text).
	if cut, ok := cutAtStop(g.text.String(), g.opts.Stop, max(0, prev-maxLen(g.opts.Stop)+1)); ok {
		g.res.Text, g.cut = cut, true
		g.res.Finish = FinishStop
		return 0, false
	}
	if onPiece != nil && !onPiece(piece) {
		g.res.Finish = FinishStop
		return 0, false
	}
	return tok, true
}

// result is the generation so far.
func (g *generation) result() Result {
	r := g.res
	if !g.cut {
		r.Text = g.text.String()
	}
	r.Duration = time.Since(g.start)
	return r
}

// cutAtStop cuts text at the earliest stop string it contains at or after byte from.
func cutAtStop(text string, stops []string, from int) (string, bool) {
	cut := -1
	for _, st := range stops {
		if st == "" {
			continue
		}
		if i := strings.Index(text[from:], st); i >= 0 && (cut < 0 || from+i < cut) {
			cut = from + i
		}
	}
	if cut < 0 {
		return text, false
	}
	return text[:cut], true
}

func maxLen(ss []string) int {
	n := 0
	for _, s := range ss {
		n = max(n, len(s))
	}
	return n
}
