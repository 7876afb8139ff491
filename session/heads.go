package session

import (
	"errors"
	"fmt"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
)

// headState is a session's per-head eviction (granularity head): the policy
// keeps a set of tokens per (layer, KV head) and the session moves single
// heads' K/V rows between cells to apply it (docs/DESIGN.md).
type headState struct {
	t     *h2o.HeadTracker
	cells []binding.Cell
	place []int32
	moves binding.HeadMoves
}

func newHeadState(opts Options, model *binding.Model, nCells int) (*headState, error) {
	info := model.Info()
	if opts.Scores != binding.ScoresKVHead {
		return nil, errors.New("granularity head ranks tokens per KV head: it needs per-KV-head scores")
	}
	t, err := h2o.NewHeadTracker(opts.Policy, info.NLayer, info.NHeadKV)
	if err != nil {
		return nil, err
	}
	if opts.Policy.Rolling && model.GPULayers() != 0 && binding.HasGPU() {
		// On a GPU the host's cost of one move per re-rotated key (every key
		// after each head's evicted token, in every layer) dominates: rotate
		// every key of a layer in one op. On the CPU the rotation itself dominates (a RoPE
		// of every row recomputes its angles): rotate only the keys that move.
		t.DenseShift(nCells)
	}
	return &headState{t: t}, nil
}

// HeadTracker is the per-head policy state (nil unless granularity head).
func (s *Session) HeadTracker() *h2o.HeadTracker {
	if s.heads == nil {
		return nil
	}
	return s.heads.t
}

// placeHeads finds the cells llama.cpp decoded the tokens at positions
// pos into (every other cell's position is below them) and records them.
func (s *Session) placeHeads(pos []int32) error {
	hs := s.heads
	if cap(hs.cells) < s.nCtx {
		hs.cells = make([]binding.Cell, s.nCtx)
	}
	cells := hs.cells[:s.nCtx]
	s.ctx.Cells(cells)
	hs.place = hs.place[:0]
	for range pos {
		hs.place = append(hs.place, -1)
	}
	for j, c := range cells {
		if c.Seq == s.seq.id && c.Pos >= pos[0] && c.Pos < pos[0]+int32(len(pos)) {
			hs.place[c.Pos-pos[0]] = int32(j)
		}
	}
	for i, c := range hs.place {
		if c < 0 {
			return fmt.Errorf("per-head eviction: the token decoded at position %d is in no cell", pos[i])
		}
	}
	return hs.t.Place(hs.place)
}

// headScores adds the step's per-KV-head attention to every head's tokens.
func (s *Session) headScores() error {
	sc, ok := s.ctx.Scores()
	if !ok {
		return errors.New("attention scores unavailable: the context does not collect them")
	}
	return s.heads.t.AddStep(h2o.Attention{NLayer: sc.NLayer, NHead: sc.NHead, NCells: sc.NCells, NKV: sc.NKV, Data: sc.Data})
}

// evictHeads shrinks every head to limit tokens (-1: the budget) and applies
// the plan: head rows move (keys re-rotated when rolling), freed cells empty,
// kept cells take positions below the next token.
func (s *Session) evictHeads(limit int) error {
	if err := s.applyHeads(limit); err != nil {
		// the policy has moved on and the cache may not have: stop here
		s.err = fmt.Errorf("per-head eviction: %w (the session must be Reset)", err)
		return s.err
	}
	return nil
}

func (s *Session) applyHeads(limit int) error {
	plan, err := s.heads.t.Evict(limit)
	if err != nil || plan.Empty() {
		return err
	}
	m := &s.heads.moves
	m.Reset()
	for _, mv := range plan.Moves {
		m.Add(mv.Layer, mv.Head, mv.Src, mv.Dst, mv.Delta)
	}
	if err := s.ctx.MoveHeads(m, plan.Shift); err != nil {
		return err
	}
	if err := s.ctx.SetCellPos(s.seq.id, plan.Cells, plan.Pos); err != nil {
		return err
	}
	s.seq.stats.Evictions += int64(plan.Evicted)
	return nil
}
