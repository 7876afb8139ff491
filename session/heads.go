package session

import (
	"errors"
	"fmt"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
)

// headState is a sequence's per-head eviction (granularity head): the policy
// keeps a set of tokens per (layer, KV head) and the sequence moves single
// heads' K/V rows between cells to apply it (docs/DESIGN.md). Its moves and
// cell positions address a single-stream cache: only a Session hosts it.
type headState struct {
	span
	t     *h2o.HeadTracker
	cells []binding.Cell
	place []int32
	moves binding.HeadMoves

	// graph, while set, makes the decode graph run every step
	// (heads_graph.go); spare keeps its buffers between handoffs
	graph, spare *graphHeads
	hostOnly     bool             // Options.HostHeads
	ctx          *binding.Context // the context of the last eviction (engage's)
	err          error            // a failed sync or handoff, reported by the next call that can
}

func newHeadState(opts Options, info binding.ModelInfo, sp span) (*headState, error) {
	if opts.Scores != binding.ScoresKVHead {
		return nil, errors.New("granularity head ranks tokens per KV head: it needs per-KV-head scores")
	}
	t, err := h2o.NewHeadTracker(opts.policy, info.NLayer, info.NHeadKV)
	if err != nil {
		return nil, err
	}
	if opts.policy.Rolling && opts.gpu {
		// On a GPU the host's cost of one move per re-rotated key (every key
		// after each head's evicted token, in every layer) dominates: rotate
		// every key of a layer in one op. On the CPU the rotation itself dominates (a RoPE
		// of every row recomputes its angles): rotate only the keys that move.
		t.DenseShift(sp.nCells)
	}
	return &headState{span: sp, t: t, hostOnly: opts.HostHeads}, nil
}

// HeadTracker is the per-head policy state (nil unless granularity head).
func (s *Session) HeadTracker() *h2o.HeadTracker {
	if hs, ok := s.seq.state.(*headState); ok {
		hs.syncNow()
		return hs.t
	}
	return nil
}

// syncNow is sync for callers without an error return: the next step reports it.
func (hs *headState) syncNow() {
	if err := hs.sync(); err != nil && hs.err == nil {
		hs.err = err
	}
}

// All heads hold as many tokens: layer 0, KV head 0 stands for the count.
func (hs *headState) tokens() *h2o.Tracker {
	hs.syncNow()
	return hs.t.Head(0, 0)
}

// count is tokens().Len() and Seen() without taking the graph's state back.
func (hs *headState) count() (int, int64) {
	n, seen := hs.t.Len(), hs.t.Seen()
	if hs.graph != nil {
		seen += int64(len(hs.graph.tokens))
	}
	return n, seen
}

// A single token at the budget hands the steps to the graph (engage) before
// it is decoded: no host step's graph of moves runs between the decodes
// (on CUDA, a graph computed between two decodes counts as a change of the
// decode's CUDA graph, and a few changes in a row turn CUDA graphs off).
func (hs *headState) append(tokens, pos []int32) []int32 {
	single := len(tokens) == 1
	if single && hs.graph == nil && hs.ctx != nil && hs.err == nil {
		if err := hs.engage(); err != nil {
			hs.err = err
		}
	}
	if g := hs.graph; g != nil {
		if single {
			g.tokens = append(g.tokens, tokens[0])
			p := g.next
			if !g.rolling {
				g.next++ // with rolling every token is decoded at the budget
			}
			return append(pos[:0], p)
		}
		hs.syncNow()
	}
	return hs.t.Append(tokens, pos)
}

func (hs *headState) reset() {
	hs.drop()
	hs.err = nil
	hs.t.Reset()
}

// attend records the cells the decode put the new tokens in and adds the
// step's per-KV-head attention to every head's tokens (the graph did both
// while it replaces).
func (hs *headState) attend(ctx *binding.Context, sc binding.Scores, pos []int32) error {
	if hs.err != nil {
		return hs.err
	}
	if hs.graph != nil {
		return nil
	}
	if err := hs.placeNew(ctx, pos); err != nil {
		return err
	}
	return hs.t.AddStep(h2o.Attention{NLayer: sc.NLayer, NHead: sc.NHead, NCells: sc.NCells, NKV: sc.NKV, Data: sc.Data})
}

// placeNew finds the cells llama.cpp decoded the tokens at positions pos
// into (every other cell's position is below them) and records them.
func (hs *headState) placeNew(ctx *binding.Context, pos []int32) error {
	if cap(hs.cells) < hs.nCells {
		hs.cells = make([]binding.Cell, hs.nCells)
	}
	cells := hs.cells[:hs.nCells]
	ctx.CellsFrom(hs.first, cells)
	hs.place = hs.place[:0]
	for range pos {
		hs.place = append(hs.place, -1)
	}
	for j, c := range cells {
		if c.Seq == hs.id && c.Pos >= pos[0] && c.Pos < pos[0]+int32(len(pos)) {
			hs.place[c.Pos-pos[0]] = int32(hs.first + j)
		}
	}
	for i, c := range hs.place {
		if c < 0 {
			return fmt.Errorf("per-head eviction: the token decoded at position %d is in no cell", pos[i])
		}
	}
	return hs.t.Place(hs.place)
}

// evict shrinks every head to limit tokens (-1: the budget) and applies the
// plan: head rows move (keys re-rotated when rolling), freed cells empty,
// kept cells take positions below the next token.
func (hs *headState) evict(ctx *binding.Context, limit int) (int, error) {
	hs.ctx = ctx
	if hs.err != nil {
		return 0, hs.err
	}
	if hs.graph != nil {
		if limit < 0 || limit == hs.t.Config().Budget {
			return 1, nil // the graph replaced one token per head
		}
		if err := hs.sync(); err != nil {
			return 0, err
		}
	}
	plan, err := hs.t.Evict(limit)
	if err == nil && !plan.Empty() {
		err = hs.apply(ctx, plan)
	}
	if err != nil {
		return 0, fmt.Errorf("per-head eviction: %w", err)
	}
	return plan.Evicted, nil
}

func (hs *headState) apply(ctx *binding.Context, plan h2o.HeadPlan) error {
	m := &hs.moves
	m.Reset()
	for _, mv := range plan.Moves {
		m.Add(mv.Layer, mv.Head, mv.Src, mv.Dst, mv.Delta)
	}
	if err := ctx.MoveHeads(m, plan.Shift); err != nil {
		return err
	}
	return ctx.SetCellPos(hs.id, plan.Cells, plan.Pos)
}
