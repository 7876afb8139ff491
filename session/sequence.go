package session

import (
	"fmt"
	"slices"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
)

// sequence is one sequence of a context: its policy state and the cells it
// owns. A Session has one; a Batcher has one per slot. Its methods do the
// per-sequence half of a step (append tokens, read this sequence's
// attention, evict); the owner runs the decode.
type sequence struct {
	id      int32
	policy  h2o.Resolved
	tracker *h2o.Tracker
	ctxTrn  int // trained context (to flag positions past it)

	// cells of the context this sequence can occupy: [first, first+nCells)
	first, nCells int

	// scratch reused every step (no allocation in the decode loop)
	pos       []int32
	cellPos   []int32 // position and sequence of each cell (readCells)
	cellSeq   []int32
	cellEntry []int
	step      []float64
	plan      h2o.Plan

	stats Stats
}

func newSequence(id int32, policy h2o.Resolved, ctxTrn, first, nCells int) (*sequence, error) {
	tr := h2o.NewTracker(policy)
	q := &sequence{id: id, policy: policy, tracker: tr, ctxTrn: ctxTrn, first: first, nCells: nCells}
	q.stats.CacheCells = nCells
	return q, nil
}

// add appends tokens to the policy state and to the batch at their positions.
func (q *sequence) add(b *binding.Batch, tokens []int32, wantLogits bool) {
	q.addAt(b, tokens, q.tracker.Append(tokens, q.pos), wantLogits)
}

// addAt adds tokens already appended to the policy state at positions pos.
func (q *sequence) addAt(b *binding.Batch, tokens, pos []int32, wantLogits bool) {
	q.pos = pos
	if !q.policy.Rolling && len(pos) > 0 && pos[len(pos)-1] >= int32(q.ctxTrn) {
		q.stats.PastTrained = true
	}
	for i, t := range tokens {
		b.Add(t, pos[i], q.id, wantLogits && i == len(tokens)-1)
	}
}

// readCells maps this sequence's cells to tracker entries. It only reads the
// context: sequences may run it concurrently between decodes.
func (q *sequence) readCells(ctx *binding.Context, nkv int) {
	n := min(nkv, q.nCells)
	if cap(q.cellPos) < n {
		q.cellPos = make([]int32, n)
		q.cellSeq = make([]int32, n)
		q.cellEntry = slices.Repeat([]int{-1}, n)
	}
	q.cellPos, q.cellSeq, q.cellEntry = q.cellPos[:n], q.cellSeq[:n], q.cellEntry[:n]
	ctx.CellsInto(q.first, q.cellPos, q.cellSeq)
	for j, p := range q.cellPos {
		e := -1
		if p >= 0 && q.cellSeq[j] == q.id {
			// a cell mostly keeps its token from one step to the next: the
			// entry found last time is where the search starts
			e = q.tracker.IndexOfPosNear(p, q.cellEntry[j])
		}
		q.cellEntry[j] = e
	}
}

// attend adds the step's attention to this sequence's cells (after readCells)
// to the policy as one step. Pure Go: safe to run for several sequences at once.
func (q *sequence) attend(sc binding.Scores) error {
	att := h2o.Attention{NLayer: sc.NLayer, NHead: sc.NHead, NCells: sc.NCells, NKV: len(q.cellEntry), Data: sc.Data[q.first:]}
	q.step = h2o.StepScores(att, q.cellEntry, q.tracker.Len(), q.policy.Aggregate, q.step)
	return q.tracker.AddStep(q.step)
}

// decide plans the eviction down to limit tokens (-1: the budget). Pure Go.
func (q *sequence) decide(limit int) {
	q.plan = q.tracker.Evict(limit)
}

// apply carries the planned eviction out on the context.
func (q *sequence) apply(ctx *binding.Context) {
	if q.plan.Empty() {
		return
	}
	for _, r := range q.plan.Remove {
		ctx.RemoveRange(q.id, r.P0, r.P1)
	}
	for _, sh := range q.plan.Shifts {
		ctx.ShiftRange(q.id, sh.P0, sh.P1, sh.Delta)
	}
	q.stats.Evictions += int64(len(q.plan.Evicted))
	q.plan = h2o.Plan{}
}

// evict plans and applies at once.
func (q *sequence) evict(ctx *binding.Context, limit int) {
	q.decide(limit)
	q.apply(ctx)
}

// reset empties the sequence's cells and policy state.
func (q *sequence) reset(ctx *binding.Context) {
	ctx.RemoveRange(q.id, -1, -1)
	q.tracker.Reset()
	q.plan = h2o.Plan{}
}

// room evicts before n more tokens enter, so that they fit the cells
// (chunked prefill with a context smaller than budget + chunk).
func (q *sequence) room(ctx *binding.Context, n int) {
	if q.policy.Evicts() && q.tracker.Len()+n > q.nCells {
		q.evict(ctx, q.nCells-n)
	}
}

func (q *sequence) fullError(incoming int) error {
	return fmt.Errorf("%w: %d tokens in the cache + %d incoming exceed its %d cells (after %d tokens in total); use an evicting policy (h2o, window, sink) or a larger context",
		ErrContextFull, q.tracker.Len(), incoming, q.nCells, q.tracker.Seen())
}

// snapshot is the sequence's statistics now.
func (q *sequence) snapshot() Stats {
	st := q.stats
	st.Seen = q.tracker.Seen()
	st.CacheUsed = q.tracker.Len()
	return st
}
