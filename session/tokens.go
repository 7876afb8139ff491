package session

import (
	"slices"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
)

// tokenState is a sequence's eviction by token (granularity token): one set
// of kept tokens for all layers and heads, so a token's cell is freed for all
// of them and kept tokens shift by llama.cpp's own range operations.
type tokenState struct {
	span
	t   *h2o.Tracker
	agg h2o.Aggregate

	// scratch reused every step (no allocation in the decode loop)
	cellPos   []int32 // position and sequence of each cell (readCells)
	cellSeq   []int32
	cellEntry []int
	step      []float64
}

func newTokenState(policy h2o.Resolved, sp span) *tokenState {
	t := h2o.NewTracker(policy)
	return &tokenState{span: sp, t: t, agg: policy.Aggregate}
}

func (ts *tokenState) tokens() *h2o.Tracker { return ts.t }

func (ts *tokenState) append(tokens, pos []int32) []int32 { return ts.t.Append(tokens, pos) }

func (ts *tokenState) reset() { ts.t.Reset() }

// attend adds the step's attention to this sequence's cells to the policy
// as one step.
func (ts *tokenState) attend(ctx *binding.Context, sc binding.Scores, _ []int32) error {
	ts.readCells(ctx, sc.NKV)
	att := h2o.Attention{NLayer: sc.NLayer, NHead: sc.NHead, NCells: sc.NCells, NKV: len(ts.cellEntry), Data: sc.Data[ts.first:]}
	ts.step = h2o.StepScores(att, ts.cellEntry, ts.t.Len(), ts.agg, ts.step)
	return ts.t.AddStep(ts.step)
}

// readCells maps this sequence's cells to tracker entries.
func (ts *tokenState) readCells(ctx *binding.Context, nkv int) {
	n := min(nkv, ts.nCells)
	if cap(ts.cellPos) < n {
		ts.cellPos = make([]int32, n)
		ts.cellSeq = make([]int32, n)
		ts.cellEntry = slices.Repeat([]int{-1}, n)
	}
	ts.cellPos, ts.cellSeq, ts.cellEntry = ts.cellPos[:n], ts.cellSeq[:n], ts.cellEntry[:n]
	ctx.CellsInto(ts.first, ts.cellPos, ts.cellSeq)
	for j, p := range ts.cellPos {
		e := -1
		if p >= 0 && ts.cellSeq[j] == ts.id {
			// a cell mostly keeps its token from one step to the next: the
			// entry found last time is where the search starts
			e = ts.t.IndexOfPosNear(p, ts.cellEntry[j])
		}
		ts.cellEntry[j] = e
	}
}

// evict removes the evicted tokens' positions from the sequence's cells and
// shifts the kept ones (the sequence's own stream only: a Batcher's
// sequences evict concurrently).
func (ts *tokenState) evict(ctx *binding.Context, limit int) (int, error) {
	plan := ts.t.Evict(limit)
	if plan.Empty() {
		return 0, nil
	}
	for _, r := range plan.Remove {
		ctx.RemoveRange(ts.id, r.P0, r.P1)
	}
	for _, sh := range plan.Shifts {
		ctx.ShiftRange(ts.id, sh.P0, sh.P1, sh.Delta)
	}
	return len(plan.Evicted), nil
}
