package eval

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/internal/logprob"
	"github.com/h2o-kv/h2o/internal/par"
	"github.com/h2o-kv/h2o/session"
)

// Options configure an evaluation.
type Options struct {
	// Runs are the policies (with their budgets) to evaluate; each gets one
	// session, reset for every document. The first Full run also serves as
	// the reference for KL and top-1.
	Runs []h2o.Config
	// Session holds everything but the policy (threads, chunk, cache types,
	// NCtx). NCtx 0 sizes each session itself: a full cache gets room for
	// the longest document.
	Session session.Options
	// KL compares every run with a full cache in lockstep; a full session is
	// added (not reported) when Runs has none.
	KL bool
	// ChunkSize > 0 also reports perplexity per window of ChunkSize tokens
	// (by token index in the document), e.g. the trained context.
	ChunkSize int
	// Parallel is the number of sessions decoded at once (each with
	// Session.Threads threads); 0 or 1 decodes them one after another.
	Parallel int
	// Progress, if set, is called after each token position is done in every session.
	Progress func(doc, docs int)
	// Done, when closed, stops the evaluation after the current position:
	// Run returns the results of every position scored so far with
	// session.ErrInterrupted.
	Done <-chan struct{}
}

// Result is what one run measured over all documents.
type Result struct {
	Config h2o.Resolved
	Docs   int
	Tokens int     // tokens scored
	NLL    float64 // sum of the negative log-likelihoods (nats)
	// KL and top-1 against the full cache, over the KLTokens predictions
	// where the full cache is within the model's trained context.
	KLTokens  int
	KLSum     float64
	Top1Agree int
	Chunks    []Chunk // with Options.ChunkSize
	Evictions int64
	// PastTrained: positions went past the trained context (no rolling).
	PastTrained bool
	Elapsed     time.Duration // time spent decoding and scoring this run
	Reference   bool          // this run is the KL reference
}

// Chunk is the perplexity of the tokens with index in [Start, End) of their documents.
type Chunk struct {
	Start, End int
	Tokens     int
	NLL        float64
}

// PPL is the perplexity exp(NLL / tokens).
func (c Chunk) PPL() float64 { return ppl(c.NLL, c.Tokens) }

// PPL is the perplexity exp(NLL / tokens).
func (r Result) PPL() float64 { return ppl(r.NLL, r.Tokens) }

// KL is the mean KL(full || policy) in nats; ok is false without reference tokens.
func (r Result) KL() (kl float64, ok bool) {
	if r.KLTokens == 0 {
		return 0, false
	}
	return r.KLSum / float64(r.KLTokens), true
}

// Top1 is the share of predictions whose most likely token is the full cache's.
func (r Result) Top1() (top1 float64, ok bool) {
	if r.KLTokens == 0 {
		return 0, false
	}
	return float64(r.Top1Agree) / float64(r.KLTokens), true
}

// TokensPerSecond is the run's own decoding speed.
func (r Result) TokensPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Tokens) / r.Elapsed.Seconds()
}

func ppl(nll float64, n int) float64 {
	if n == 0 {
		return math.NaN()
	}
	return math.Exp(nll / float64(n))
}

// runner is one session and what it saw at the current step.
type runner struct {
	s      *session.Session
	res    *Result
	logits []float32 // view into the context, valid until the next Step
	logZ   float64   // log of the softmax normaliser of logits
	argmax int
	err    error
}

// Run evaluates every run on every document. The model is shared; each run
// has its own session. For each document: feed its prefix (BOS and the first
// token), then for each next token take its NLL from the logits and Step it.
func Run(m *binding.Model, docs []Doc, o Options) ([]Result, error) {
	if len(o.Runs) == 0 {
		return nil, errors.New("eval: no policy to evaluate")
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("eval: %w", ErrNoInput)
	}
	maxLen := 0
	for _, d := range docs {
		if d.Scored() == 0 {
			return nil, fmt.Errorf("eval: %w: %s has nothing to score", ErrNoInput, d.Name)
		}
		maxLen = max(maxLen, len(d.Tokens))
	}
	trained := m.Info().NCtxTrain
	ref := -1
	runs := make([]*runner, 0, len(o.Runs)+1)
	defer func() {
		for _, r := range runs {
			r.s.Close()
		}
	}()
	add := func(cfg h2o.Config) error {
		so := o.Session
		so.Policy = cfg
		if !cfg.Evicts() {
			if so.NCtx == 0 {
				so.NCtx = max(trained, maxLen)
			} else if so.NCtx < maxLen {
				return fmt.Errorf("eval: a full cache needs %d cells for the longest document, the context is %d (raise -c or use --max-tokens)", maxLen, so.NCtx)
			}
		}
		s, err := session.New(m, so)
		if err != nil {
			return fmt.Errorf("eval: %s: %w", cfg, err)
		}
		r := &runner{s: s, res: &Result{Config: s.Options().Resolved()}}
		if o.ChunkSize > 0 {
			for st := 0; st < maxLen; st += o.ChunkSize {
				r.res.Chunks = append(r.res.Chunks, Chunk{Start: st, End: st + o.ChunkSize})
			}
		}
		runs = append(runs, r)
		return nil
	}
	for _, cfg := range o.Runs {
		if err := add(cfg); err != nil {
			return nil, err
		}
		if ref < 0 && o.KL && !cfg.Evicts() {
			ref = len(runs) - 1
		}
	}
	reported := len(runs)
	if o.KL && ref < 0 {
		if err := add(h2o.Config{Policy: h2o.Full}); err != nil {
			return nil, err
		}
		ref = len(runs) - 1
	}
	if ref >= 0 {
		runs[ref].res.Reference = true
	}

	var pref []float64 // reference probabilities at the current step
	for di, d := range docs {
		for _, r := range runs {
			r.s.Reset()
			r.res.Docs++
		}
		for i := d.Prefix; i < len(d.Tokens); i++ {
			// Advance every session to the context before token i and
			// normalise its logits (in parallel: sessions are independent).
			par.For(len(runs), o.Parallel, func(k int) {
				r := runs[k]
				start := time.Now()
				if i == d.Prefix {
					r.err = r.s.Feed(d.Tokens[:d.Prefix])
				} else {
					r.err = r.s.Step(d.Tokens[i-1])
				}
				if r.err == nil {
					r.logits = r.s.Logits()
					if r.logits == nil {
						r.err = errors.New("no logits after decoding")
					} else {
						r.logZ, r.argmax = logprob.LogSumExp(r.logits)
					}
				}
				r.res.Elapsed += time.Since(start)
			})
			for _, r := range runs {
				if r.err != nil {
					return nil, fmt.Errorf("eval: %s on %s at token %d: %w", r.res.Config, d.Name, i, r.err)
				}
			}
			tok := d.Tokens[i]
			// The full cache is a valid reference while its positions
			// (0..i-1) stay within the trained context.
			withRef := ref >= 0 && i <= trained
			if withRef {
				pref = probs(runs[ref].logits, runs[ref].logZ, pref)
			}
			for _, r := range runs {
				nll := r.logZ - float64(r.logits[tok])
				r.res.Tokens++
				r.res.NLL += nll
				if o.ChunkSize > 0 {
					c := &r.res.Chunks[i/o.ChunkSize]
					c.Tokens++
					c.NLL += nll
				}
				if withRef {
					rr := runs[ref]
					r.res.KLTokens++
					r.res.KLSum += kl(pref, rr.logits, rr.logZ, r.logits, r.logZ)
					if r.argmax == rr.argmax {
						r.res.Top1Agree++
					}
				}
			}
			if o.Progress != nil {
				o.Progress(di, len(docs))
			}
			select {
			case <-o.Done:
				return results(runs[:reported]), fmt.Errorf("eval: %w in %s after %d of its %d tokens", session.ErrInterrupted, d.Name, i+1, len(d.Tokens))
			default:
			}
		}
	}
	return results(runs[:reported]), nil
}

// results are the runs' measures, with their sessions' statistics.
func results(runs []*runner) []Result {
	out := make([]Result, 0, len(runs))
	for _, r := range runs {
		st := r.s.Stats()
		r.res.Evictions = st.Evictions
		r.res.PastTrained = st.PastTrained
		for len(r.res.Chunks) > 0 && r.res.Chunks[len(r.res.Chunks)-1].Tokens == 0 {
			r.res.Chunks = r.res.Chunks[:len(r.res.Chunks)-1]
		}
		out = append(out, *r.res)
	}
	return out
}
