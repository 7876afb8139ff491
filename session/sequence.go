package session

import (
	"fmt"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
)

// sequence is one sequence of a context: the policy state of its tokens and
// the cells it owns. A Session has one; a Batcher has one per slot. Its
// methods do the per-sequence half of a step (append tokens, read this
// sequence's attention, evict); the owner runs the decode.
type sequence struct {
	span
	policy h2o.Resolved
	state  seqState
	info   binding.ModelInfo // the model's shape (a new state is built from it)
	ctxTrn int               // trained context (to flag positions past it)

	pos []int32 // positions of the tokens last added (reused every step)

	stats Stats
}

// span is the part of a context a sequence owns: its sequence id and the
// cells [first, first+nCells) of its KV stream.
type span struct {
	id            int32
	first, nCells int
}

// seqState is the policy state of one sequence: which of its tokens the KV
// cache keeps, and where. tokenState keeps one set of tokens for all layers
// and heads (h2o.Tracker); headState keeps one per layer and KV head
// (h2o.HeadTracker) and moves single heads' rows between cells.
type seqState interface {
	// tokens is the token count and positions of the sequence (per head:
	// the tracker of layer 0, KV head 0; every head holds as many tokens).
	tokens() *h2o.Tracker
	// count is tokens().Len() and tokens().Seen(), as cheap as a step
	// needs (per head, tokens may first copy state back from the backend).
	count() (n int, seen int64)
	// append records tokens entering the cache and returns the positions to
	// decode them at (pos is reused when large enough).
	append(tokens, pos []int32) []int32
	// attend feeds the attention of the decode just run to the policy; pos
	// are the positions the decode put the sequence's new tokens at. It
	// only reads the context: a Batcher's sequences run it concurrently.
	attend(ctx *binding.Context, sc binding.Scores, pos []int32) error
	// evict shrinks the cache to limit tokens (-1: the budget), applies the
	// plan to the context and returns the tokens evicted. After an error the
	// policy and the cache may disagree: the owner must reset.
	evict(ctx *binding.Context, limit int) (int, error)
	// reset forgets every token (the owner empties the cells).
	reset()
}

// newSequence creates sequence id over cells [first, first+nCells) with the
// state its granularity calls for.
func newSequence(id int32, opts Options, info binding.ModelInfo, first, nCells int) (*sequence, error) {
	sp := span{id: id, first: first, nCells: nCells}
	var st seqState
	if opts.policy.Granularity == h2o.PerHead {
		hs, err := newHeadState(opts, info, sp)
		if err != nil {
			return nil, err
		}
		st = hs
	} else {
		st = newTokenState(opts.policy, sp)
	}
	q := &sequence{span: sp, policy: opts.policy, state: st, info: info, ctxTrn: info.NCtxTrain}
	q.stats.CacheCells = nCells
	return q, nil
}

// len is the number of tokens in the sequence's cache.
func (q *sequence) len() int {
	n, _ := q.state.count()
	return n
}

// add appends tokens to the policy state and to the batch at their positions.
func (q *sequence) add(b *binding.Batch, tokens []int32, wantLogits bool) {
	pos := q.state.append(tokens, q.pos)
	q.pos = pos
	if !q.policy.Rolling && len(pos) > 0 && pos[len(pos)-1] >= int32(q.ctxTrn) {
		q.stats.PastTrained = true
	}
	for i, t := range tokens {
		b.Add(t, pos[i], q.id, wantLogits && i == len(tokens)-1)
	}
}

// attend feeds the attention of the decode just run to the policy.
func (q *sequence) attend(ctx *binding.Context, sc binding.Scores) error {
	return q.state.attend(ctx, sc, q.pos)
}

// evict shrinks the cache to limit tokens (-1: the budget).
func (q *sequence) evict(ctx *binding.Context, limit int) error {
	n, err := q.state.evict(ctx, limit)
	q.stats.Evictions += int64(n)
	return err
}

// reset empties the sequence's cells and policy state.
func (q *sequence) reset(ctx *binding.Context) {
	ctx.RemoveRange(q.id, -1, -1)
	q.state.reset()
}

// room evicts before n more tokens enter, so that they fit the cells
// (chunked prefill with a context smaller than budget + chunk).
func (q *sequence) room(ctx *binding.Context, n int) error {
	if q.policy.Evicts() && q.len()+n > q.nCells {
		return q.evict(ctx, q.nCells-n)
	}
	return nil
}

func (q *sequence) fullError(incoming int) error {
	n, seen := q.state.count()
	return fmt.Errorf("%w: %d tokens in the cache + %d incoming exceed its %d cells (after %d tokens in total); use an evicting policy (h2o, window, sink) or a larger context",
		ErrContextFull, n, incoming, q.nCells, seen)
}

// snapshot is the sequence's statistics now.
func (q *sequence) snapshot() Stats {
	st := q.stats
	st.CacheUsed, st.Seen = q.state.count()
	return st
}
