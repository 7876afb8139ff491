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
	nLayer int // layers and KV heads of the model (the keys' shape)
	nHead  int
	rekey  bool // rolling moved keys since they were read (keydiff)

	// scratch reused every step (no allocation in the decode loop)
	cellPos   []int32 // position and sequence of each cell (readCells)
	cellSeq   []int32
	cellEntry []int
	step      []float64
	rank      []float64
	keys      []float32
}

func newTokenState(policy h2o.Resolved, info binding.ModelInfo, sp span) *tokenState {
	t := h2o.NewTracker(policy)
	ts := &tokenState{span: sp, t: t, policy: policy, nLayer: info.NLayer, nHead: info.NHeadKV}
	if policy.NeedsKeys() {
		// a cell's keys: every layer's row of all KV heads
		ts.keys = make([]float32, info.NLayer*info.NHeadKV*(info.NEmbd/info.NHead))
	}
	return ts
}

func (ts *tokenState) tokens() *h2o.Tracker { return ts.t }

func (ts *tokenState) append(tokens, pos []int32) []int32 { return ts.t.Append(tokens, pos) }

func (ts *tokenState) reset() {
	ts.t.Reset()
	ts.rekey = false
}

// attend adds the step's attention to this sequence's cells to the policy
// as one step; a policy ranking by keys reads the keys of the new tokens
// instead (of every token when rolling has moved them).
func (ts *tokenState) attend(ctx *binding.Context, sc binding.Scores, pos []int32) error {
	if ts.policy.NeedsKeys() {
		from := ts.t.Len() - len(pos)
		if ts.rekey {
			from, ts.rekey = 0, false
		}
		return ts.readKeys(ctx, from)
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

// readKeys gives the tracker the keys of entries from on, read back from
// their cells layer by layer.
func (ts *tokenState) readKeys(ctx *binding.Context, from int) error {
	ts.readCells(ctx, ts.nCells)
	row := len(ts.keys) / ts.nLayer
	for j, e := range ts.cellEntry {
		if e < from {
			continue
		}
		for l := 0; l < ts.nLayer; l++ {
			n, err := ctx.KeyRow(l, ts.first+j, ts.keys[l*row:(l+1)*row])
			if err != nil {
				return err
			}
			if n != row {
				return fmt.Errorf("%s: a key row of %d values, want %d", ts.policy.Name(), n, row)
			}
		}
		k := h2o.Keys{NLayer: ts.nLayer, NHead: ts.nHead, Dim: row / ts.nHead, Data: ts.keys}
		if err := ts.t.SetKeys(e, k); err != nil {
			return err
		}
	}
	if n := ts.t.MissingKeys(); n > 0 {
		return fmt.Errorf("%s: %d cached tokens have no keys", ts.policy.Name(), n)
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
	if len(plan.Shifts) > 0 && ts.policy.Policy == h2o.KeyDiff && !ctx.RotateOnRead() {
		// keys re-rotated in place point elsewhere: their cosines to the
		// mean change (keys rotated on read stay as stored)
		ts.rekey = true
	}
}
