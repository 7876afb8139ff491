package session

import (
	"fmt"
	"slices"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
)

// tokenState is a sequence's eviction by token (granularity token): one set
// of kept tokens for all layers and heads, so a token's cell is freed for all
// of them and kept tokens shift by llama.cpp's own range operations.
type tokenState struct {
	span
	t      *h2o.Tracker
	policy h2o.Resolved

	// scratch reused every step (no allocation in the decode loop)
	cellPos   []int32 // position and sequence of each cell (readCells)
	cellSeq   []int32
	cellEntry []int
	step      []float64
	rank      []float64
	// key statistics (knorm, keydiff): the cells asked for, their entries, the values
	statCells   []int32
	statEntries []int
	stats       []float32
}

func newTokenState(policy h2o.Resolved, sp span) *tokenState {
	t := h2o.NewTracker(policy)
	return &tokenState{span: sp, t: t, policy: policy}
}

func (ts *tokenState) tokens() *h2o.Tracker { return ts.t }

func (ts *tokenState) count() (int, int64) { return ts.t.Len(), ts.t.Seen() }

func (ts *tokenState) append(tokens, pos []int32) []int32 { return ts.t.Append(tokens, pos) }

func (ts *tokenState) reset() {
	ts.t.Reset()
}

// attend adds the step's attention to this sequence's cells to the policy
// as one step; a policy ranking by keys takes their statistics instead,
// reduced where the cache lives: knorm the norms of the new tokens' keys,
// keydiff nothing yet (its cosines to the anchor of the whole cache are
// taken before each eviction, see evict).
func (ts *tokenState) attend(ctx *binding.Context, sc binding.Scores, pos []int32) error {
	if ts.policy.NeedsKeys() {
		if ts.policy.Policy == h2o.Knorm {
			return ts.keyStats(ctx, binding.KeyNorm, ts.t.Len()-len(pos))
		}
		return nil
	}
	ts.step = ts.stepScores(ctx, sc)
	return ts.t.AddStep(ts.step)
}

// stepScores is the attention the decode just run gave each of the
// sequence's tokens, by the policy's aggregation (into ts.step).
func (ts *tokenState) stepScores(ctx *binding.Context, sc binding.Scores) []float64 {
	ts.readCells(ctx, sc.NKV)
	att := h2o.Attention{NLayer: sc.NLayer, NHead: sc.NHead, NCells: sc.NCells, NKV: len(ts.cellEntry), Data: sc.Data[ts.first:]}
	return h2o.StepScores(att, ts.cellEntry, ts.t.Len(), ts.policy.Aggregate, ts.step)
}

// keyStats gives the tracker stat of the keys of entries from on, computed
// on the backend holding the cache (one float per token comes back). The
// cosines' anchor is over the cells asked for: keydiff asks for all.
func (ts *tokenState) keyStats(ctx *binding.Context, stat binding.KeyStat, from int) error {
	ts.readCells(ctx, ts.nCells)
	ts.statCells, ts.statEntries = ts.statCells[:0], ts.statEntries[:0]
	for j, e := range ts.cellEntry {
		if e >= from {
			ts.statCells = append(ts.statCells, int32(ts.first+j))
			ts.statEntries = append(ts.statEntries, e)
		}
	}
	if want := ts.t.Len() - from; len(ts.statCells) != want {
		return fmt.Errorf("%s: %d of %d cached tokens found in their cells", ts.policy.Name(), len(ts.statCells), want)
	}
	ts.stats = slices.Grow(ts.stats[:0], len(ts.statCells))[:len(ts.statCells)]
	if err := ctx.KeyStats(stat, ts.statCells, ts.stats); err != nil {
		return err
	}
	for k, e := range ts.statEntries {
		if err := ts.t.SetKeyStat(e, float64(ts.stats[k])); err != nil {
			return err
		}
	}
	return nil
}

// cut applies the prompt rule (snapkv) after the observation window was
// decoded on its own: its attention, pooled, ranks the tokens before it.
func (ts *tokenState) cut(ctx *binding.Context, sc binding.Scores, window int) (int, error) {
	vote := ts.stepScores(ctx, sc)
	ts.rank = h2o.SnapKVRanks(vote, ts.rank)
	plan, err := ts.t.Cut(ts.policy.Budget, window, ts.rank)
	if err != nil {
		return 0, err
	}
	ts.apply(ctx, plan)
	return len(plan.Evicted), nil
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
	if limit < 0 {
		limit = ts.policy.Budget
	}
	if ts.policy.Policy == h2o.KeyDiff && ts.t.Len() > limit {
		if err := ts.keyStats(ctx, binding.KeyCosine, 0); err != nil {
			return 0, err
		}
	}
	plan := ts.t.Evict(limit)
	ts.apply(ctx, plan)
	return len(plan.Evicted), nil
}

// apply removes a plan's positions from the cells and shifts the kept ones.
func (ts *tokenState) apply(ctx *binding.Context, plan h2o.Plan) {
	for _, r := range plan.Remove {
		ctx.RemoveRange(ts.id, r.P0, r.P1)
	}
	for _, sh := range plan.Shifts {
		ctx.ShiftRange(ts.id, sh.P0, sh.P1, sh.Delta)
	}
}
