package session

import (
	"fmt"
	"slices"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
)

// graphHeads is per-head eviction handed to the decode graph: while every
// step is a single replacement (h2o.HeadTracker.Replaceable), each decode
// of one token adds its attention to every head's sums and replaces the
// least attended candidate per head on the backend that holds the cache
// (binding.BeginHeadReplace). The host copies nothing back and ranks
// nothing; the tracker is stale until sync takes the state back, which
// anything other than a single-token step does first. With rolling every
// token is decoded at the budget's position and attention reads each head's
// keys rotated to their ranks; sync re-rotates the stored keys there once.
type graphHeads struct {
	state   h2o.ReplacedState
	shift   []int32 // with rolling: each key's shift since the handoff
	tokens  []int32 // appended since the handoff
	next    int32   // the position of the next token
	rolling bool
}

// engage hands the steps to the graph (hs.ctx's) when the tracker allows it;
// a refusal leaves the host in charge.
func (hs *headState) engage() error {
	ctx := hs.ctx
	if hs.graph != nil || hs.hostOnly || !ctx.FlashAttn() {
		return nil
	}
	lo, recent, ok := hs.t.Replaceable()
	if !ok {
		return nil
	}
	g := hs.spare
	if g == nil {
		g = &graphHeads{}
	}
	g.tokens, g.next, g.rolling = g.tokens[:0], hs.t.NextPos(), hs.t.Config().Rolling
	if err := hs.t.ReplaceState(hs.nCells, &g.state); err != nil {
		return err
	}
	st := binding.HeadReplaceState{Sums: g.state.Sums, Keys: g.state.Keys}
	r := binding.HeadReplace{KeyLo: lo, Recent: recent, KeyNext: g.state.Next, RankPos: g.rolling}
	if err := ctx.BeginHeadReplace(hs.id, r, st); err != nil {
		return fmt.Errorf("per-head eviction: %w", err)
	}
	hs.graph, hs.spare = g, nil
	return nil
}

// sync takes the state back from the graph into the tracker.
func (hs *headState) sync() error {
	g := hs.graph
	if g == nil {
		return nil
	}
	hs.graph, hs.spare = nil, g
	st := binding.HeadReplaceState{Sums: g.state.Sums, Keys: g.state.Keys}
	if g.rolling {
		g.shift = slices.Grow(g.shift[:0], len(g.state.Keys))[:len(g.state.Keys)]
		st.Shift = g.shift
	}
	if err := hs.ctx.EndHeadReplace(st); err != nil {
		return fmt.Errorf("per-head eviction: %w", err)
	}
	if err := hs.t.AdoptReplaced(&g.state, g.tokens); err != nil {
		return fmt.Errorf("per-head eviction: %w", err)
	}
	if g.rolling && slices.ContainsFunc(g.shift, func(d int32) bool { return d != 0 }) {
		// the stored keys, rotated at their ranks of the handoff, to their ranks now
		hs.moves.Reset()
		if err := hs.ctx.MoveHeads(&hs.moves, g.shift); err != nil {
			return fmt.Errorf("per-head eviction: %w", err)
		}
	}
	return nil
}

// drop stops the graph's replacement without taking its state back (the
// cache is being emptied).
func (hs *headState) drop() {
	if g := hs.graph; g != nil {
		hs.graph, hs.spare = nil, g
		_ = hs.ctx.EndHeadReplace(binding.HeadReplaceState{})
	}
}
