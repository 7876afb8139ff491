package session

import (
	"errors"
	"fmt"

	"github.com/h2o-kv/h2o/h2o"
)

// ErrRequest marks a request that a Batcher cannot run as given (an empty
// prompt, a policy its context was not made for, a prompt longer than a
// non-evicting sequence's cells): the caller's error, not the batch's.
var ErrRequest = errors.New("request refused")

// CheckRequest resolves a request's policy (its own or the Batcher's) and
// checks that the context can run it: every sequence has a KV stream of
// CellsPerSequence cells, fixed when the context was made, so a budget
// must leave one cell free of it and a non-evicting request must fit its
// prompt in it; attention is collected only when the Batcher's own policy
// ranks by it, so h2o requests need an h2o Batcher; granularity head runs
// on a Session only. It reads only what NewBatcher fixed: it may run on
// any goroutine, also while the Batcher steps.
func (b *Batcher) CheckRequest(r Request) (h2o.Resolved, error) {
	if len(r.Prompt) == 0 {
		return h2o.Resolved{}, fmt.Errorf("%w: request %d: empty prompt", ErrRequest, r.ID)
	}
	p := b.opts.policy
	if r.Policy != nil {
		var err error
		if p, err = r.Policy.Resolve(); err != nil {
			return p, fmt.Errorf("%w: %w", ErrRequest, err)
		}
		switch {
		case p.Granularity != b.opts.policy.Granularity:
			return p, fmt.Errorf("%w: granularity %s: this context runs granularity %s", ErrRequest, p.Granularity, b.opts.policy.Granularity)
		case p.NeedsScores() && !b.opts.policy.NeedsScores():
			return p, fmt.Errorf("%w: policy %s ranks tokens by attention, which this context does not collect (its default policy is %s; start it with an h2o default)",
				ErrRequest, p.Policy, b.opts.policy.Policy)
		case p.NeedsScores() && p.Aggregate != b.opts.policy.Aggregate:
			return p, fmt.Errorf("%w: score aggregation %s: this context collects the scores of %s", ErrRequest, p.Aggregate, b.opts.policy.Aggregate)
		case p.Evicts() && p.Budget+1 > b.cells:
			return p, fmt.Errorf("%w: budget %d: each sequence has %d KV cells, so the budget can be at most %d (a larger one needs a larger context, -c)",
				ErrRequest, p.Budget, b.cells, b.cells-1)
		}
	}
	full := b.opts.Prefill == PrefillFull || !p.Evicts()
	if full && len(r.Prompt) > b.cells {
		return p, fmt.Errorf("%w: %w: a prompt of %d tokens exceeds the %d KV cells of a sequence (policy %s keeps every prompt token); use an evicting policy or a larger context",
			ErrRequest, ErrContextFull, len(r.Prompt), b.cells, p.Policy)
	}
	return p, nil
}

// Cancel ends request id now, between steps, and frees its slot for the
// next Start; its Done (the text so far, Err ErrCancelled) is returned.
// ok is false when no sequence runs that request.
func (b *Batcher) Cancel(id int) (d Done, ok bool) {
	for _, s := range b.slots {
		if s.state != slotIdle && s.id == id {
			s.err = ErrCancelled
			return b.finish(s), true
		}
	}
	return Done{}, false
}

// ErrCancelled is the error of a request ended by Cancel.
var ErrCancelled = errors.New("request cancelled")

// CacheUsed is the number of tokens in the KV cache over all sequences.
func (b *Batcher) CacheUsed() int {
	n := 0
	for _, s := range b.slots {
		if s.state != slotIdle {
			n += s.seq.len()
		}
	}
	return n
}

// setPolicy gives the sequence a request's policy (granularity token: the
// Batcher runs no other), with a fresh state when it differs.
func (q *sequence) setPolicy(p h2o.Resolved) {
	if p == q.policy {
		return
	}
	q.policy = p
	q.state = newTokenState(p, q.span)
}
