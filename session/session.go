package session

import (
	"errors"
	"fmt"
	"time"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
)

// ErrContextFull is returned when a non-evicting cache has no room left.
var ErrContextFull = errors.New("context full")

// ErrInterrupted is returned when the caller asked to stop (a Feed progress
// function returned false, or a task's stop channel closed); what was done
// before stays valid.
var ErrInterrupted = errors.New("interrupted")

// Session is one sequence on one llama.cpp context under an H2O policy.
type Session struct {
	opts  Options
	model *binding.Model
	ctx   *binding.Context
	seq   *sequence
	err   error // a failed eviction, returned by every Feed or Step until Reset
	batch *binding.Batch
	nCtx  int

	lastLogits bool // the last decode produced logits for its last token
	// onFeed follows a Feed chunk by chunk (see SetFeedProgress)
	onFeed func(done, total int) bool
}

// SetFeedProgress makes every Feed call f after each chunk with the tokens
// read so far; f returning false stops the Feed with ErrInterrupted, the
// tokens read staying in the cache. nil removes it.
func (s *Session) SetFeedProgress(f func(done, total int) bool) { s.onFeed = f }

// New creates the context the options call for and an empty session.
func New(model *binding.Model, opts Options) (*Session, error) {
	opts, err := opts.resolve(onGPU(model))
	if err != nil {
		return nil, err
	}
	info := model.Info()
	nctx := opts.contextSize(info.NCtxTrain)
	if opts.policy.Evicts() && nctx < opts.policy.Budget+1 {
		return nil, fmt.Errorf("context of %d cells cannot hold the budget of %d tokens plus one", nctx, opts.policy.Budget)
	}
	chunk := min(opts.Chunk, nctx)
	ctx, err := binding.NewContext(model, binding.ContextParams{
		NCtx: nctx, NBatch: chunk, NUbatch: chunk, Threads: opts.Threads,
		FlashAttn: opts.FlashAttn, TypeK: opts.TypeK, TypeV: opts.TypeV, Scores: opts.Scores,
		RotateOnRead: opts.rotateOnRead, Profile: opts.Profile,
	})
	if err != nil {
		return nil, err
	}
	q, err := newSequence(0, opts, info, 0, ctx.NCtx())
	if err != nil {
		ctx.Close()
		return nil, err
	}
	return &Session{opts: opts, model: model, ctx: ctx, seq: q, batch: binding.NewBatch(chunk), nCtx: ctx.NCtx()}, nil
}

// Close frees the context and batch.
func (s *Session) Close() error {
	s.batch.Close()
	return s.ctx.Close()
}

// Options are the effective options (defaults filled in).
func (s *Session) Options() Options { return s.opts }

// Context is the underlying llama.cpp context.
func (s *Session) Context() *binding.Context { return s.ctx }

// Model is the session's model.
func (s *Session) Model() *binding.Model { return s.model }

// Tracker is the policy state (read-only use; with granularity head, that
// of layer 0, KV head 0: see HeadTracker).
func (s *Session) Tracker() *h2o.Tracker { return s.seq.state.tokens() }

// Reset empties the cache and the policy state; statistics are kept.
func (s *Session) Reset() {
	s.ctx.ClearMemory()
	s.seq.state.reset()
	s.err = nil
	s.lastLogits = false
}

// Feed decodes tokens into the cache, chunk by chunk, evicting per the policy.
// With full prefill the whole input is attended before the cache is cut. The
// logits of the last token are available through Logits afterwards.
func (s *Session) Feed(tokens []int32) error {
	if len(tokens) == 0 {
		return nil
	}
	if s.err != nil {
		return s.err
	}
	start := time.Now()
	chunk := s.ctx.NBatch()
	full := s.opts.Prefill == PrefillFull || !s.opts.policy.Evicts()
	if full && s.seq.len()+len(tokens) > s.nCtx {
		return s.seq.fullError(len(tokens))
	}
	// With a prompt rule the observation window is the last decode, alone.
	window := min(s.opts.policy.Prompt.Window, len(tokens))
	last := len(tokens) - window
	for i, end := 0, 0; i < len(tokens); i = end {
		end = min(i+chunk, len(tokens))
		if i < last {
			end = min(end, last)
		}
		if !full && s.seq.len()+end-i > s.nCtx {
			// a smaller context than budget + chunk
			if err := s.evict(s.nCtx - (end - i)); err != nil {
				return err
			}
		}
		if err := s.decode(tokens[i:end], end == len(tokens)); err != nil {
			return err
		}
		if !full {
			if err := s.evict(-1); err != nil {
				return err
			}
		}
		if s.onFeed != nil && end < len(tokens) && !s.onFeed(end, len(tokens)) {
			s.seq.stats.PromptTokens += end
			s.seq.stats.PromptTime += time.Since(start)
			return ErrInterrupted
		}
	}
	switch {
	case window > 0:
		if err := s.cutPrompt(window); err != nil {
			return err
		}
	case full:
		if err := s.evict(-1); err != nil {
			return err
		}
	}
	s.ctx.Synchronize() // a GPU decode returns before it is done: time all of it
	s.seq.stats.PromptTokens += len(tokens)
	s.seq.stats.PromptTime += time.Since(start)
	return nil
}

// decode appends tokens to the cache at the policy's positions, decodes them
// and feeds the step's attention to the policy.
func (s *Session) decode(tokens []int32, wantLogits bool) error {
	s.batch.Clear()
	s.seq.add(s.batch, tokens, wantLogits)
	if err := s.ctx.Decode(s.batch); err != nil {
		if errors.Is(err, binding.ErrKVFull) {
			return s.seq.fullError(0)
		}
		return err
	}
	s.lastLogits = wantLogits
	if s.opts.policy.NeedsKeys() {
		return s.seq.attend(s.ctx, binding.Scores{})
	}
	if !s.opts.policy.NeedsScores() { // granularity head always does
		return nil
	}
	sc, ok := s.ctx.Scores()
	if !ok {
		return errNoScores
	}
	return s.seq.attend(s.ctx, sc)
}

var errNoScores = errors.New("attention scores unavailable: the context does not collect them")

// cutPrompt cuts the cache to the budget by the prompt rule, from the
// scores of the observation window's decode.
func (s *Session) cutPrompt(window int) error {
	sc, ok := s.ctx.Scores()
	if !ok {
		return errNoScores
	}
	ts, ok := s.seq.state.(*tokenState)
	if !ok {
		return errors.New("prompt rule: needs granularity token")
	}
	n, err := ts.cut(s.ctx, sc, window)
	s.seq.stats.Evictions += int64(n)
	if err != nil {
		s.err = fmt.Errorf("prompt rule: %w (the session must be Reset)", err)
		return s.err
	}
	return nil
}

// evict shrinks the cache to limit (-1: the budget).
func (s *Session) evict(limit int) error {
	if err := s.seq.evict(s.ctx, limit); err != nil {
		// the policy has moved on and the cache may not have: stop here
		s.err = fmt.Errorf("%w (the session must be Reset)", err)
		return s.err
	}
	return nil
}

// MakeRoom evicts so that n more tokens fit in the budget, as the recipe's
// streaming demo does before each prompt (never below the recent window).
func (s *Session) MakeRoom(n int) {
	if !s.opts.policy.Evicts() {
		return
	}
	limit := max(s.opts.policy.Budget-n, s.opts.policy.Recent)
	if err := s.evict(limit); err != nil && s.err == nil {
		s.err = err
	}
}

// Logits are the next-token logits after the last Feed or Step
// (nil if the last decode asked for none).
func (s *Session) Logits() []float32 {
	if !s.lastLogits {
		return nil
	}
	return s.ctx.Logits(-1)
}

// Step decodes one token (the one just sampled) and evicts per the policy.
func (s *Session) Step(tok int32) error {
	start := time.Now()
	if s.err != nil {
		return s.err
	}
	if !s.opts.policy.Evicts() && s.seq.len()+1 > s.nCtx {
		return s.seq.fullError(1)
	}
	if err := s.decode([]int32{tok}, true); err != nil {
		return err
	}
	if err := s.evict(-1); err != nil {
		return err
	}
	s.ctx.Synchronize() // a GPU decode returns before it is done: time all of it
	s.seq.stats.GenTokens++
	s.seq.stats.GenTime += time.Since(start)
	return nil
}

// CacheLen is the number of tokens in the KV cache.
func (s *Session) CacheLen() int { return s.seq.len() }

// Stats are the counters since the session started.
func (s *Session) Stats() Stats { return s.seq.snapshot() }
