package session

import (
	"errors"
	"fmt"
	"time"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
)

// PromptAttention is the attention a prompt's tokens received from the
// prompt's own queries (causally: token i from queries i and later), added
// up over the chunks the prompt was decoded in.
type PromptAttention struct {
	NLayer, NHead int // NHead: KV heads or query heads, per Options.Scores
	// Aggregate is how Score combines a token's layers and heads: the
	// policy's, as h2o.StepScores computes it for the tracker.
	Aggregate h2o.Aggregate
	Tokens    []TokenAttention // in prompt order
}

// TokenAttention is the attention one prompt token received.
type TokenAttention struct {
	Token int32
	Pos   int32   // the position it was decoded at
	Score float64 // its layers and heads by Aggregate: what H2O ranks it by
	// PerHead[layer*NHead + head] is what that head gave it (the row a
	// per-head policy ranks by); PerLayer sums a layer's heads.
	PerHead  []float64
	PerLayer []float64
}

// AttendPrompt feeds a prompt into the empty cache and returns the attention
// its tokens received. The whole prompt is decoded, chunk by chunk, before
// anything is evicted (as with full prefill), so it needs cells for all of
// it; then the cache is cut to the budget and generation may follow. The
// session needs a row of scores per head: Options.Scores ScoresKVHead or
// ScoresQueryHead.
func (s *Session) AttendPrompt(tokens []int32) (PromptAttention, error) {
	if s.err != nil {
		return PromptAttention{}, s.err
	}
	if s.opts.Scores != binding.ScoresKVHead && s.opts.Scores != binding.ScoresQueryHead {
		return PromptAttention{}, fmt.Errorf("prompt attention: needs a score row per head (KV or query heads), the session collects %v", s.opts.Scores)
	}
	if len(tokens) == 0 {
		return PromptAttention{}, errors.New("prompt attention: empty prompt")
	}
	if s.seq.len() != 0 {
		return PromptAttention{}, errors.New("prompt attention: the cache is not empty (Reset first)")
	}
	if len(tokens) > s.nCtx {
		return PromptAttention{}, s.seq.fullError(len(tokens))
	}
	start := time.Now()
	pa := PromptAttention{Aggregate: s.opts.policy.Aggregate, Tokens: make([]TokenAttention, len(tokens))}
	at := map[int32]int{} // prompt index by position
	var cells []binding.Cell
	var cellEntry []int
	var step []float64
	chunk := s.ctx.NBatch()
	for i := 0; i < len(tokens); i += chunk {
		end := min(i+chunk, len(tokens))
		if err := s.decode(tokens[i:end], end == len(tokens)); err != nil {
			return PromptAttention{}, err
		}
		for k, p := range s.seq.pos {
			at[p] = i + k
			pa.Tokens[i+k].Token, pa.Tokens[i+k].Pos = tokens[i+k], p
		}
		sc, ok := s.ctx.Scores()
		if !ok {
			return PromptAttention{}, errNoScores
		}
		if pa.Tokens[0].PerHead == nil {
			pa.NLayer, pa.NHead = sc.NLayer, sc.NHead
			for k := range pa.Tokens {
				pa.Tokens[k].PerHead = make([]float64, sc.NLayer*sc.NHead)
				pa.Tokens[k].PerLayer = make([]float64, sc.NLayer)
			}
		}
		// map this sequence's cells to prompt tokens
		n := min(sc.NKV, s.seq.nCells)
		if cap(cells) < n {
			cells, cellEntry = make([]binding.Cell, n), make([]int, n)
		}
		cells, cellEntry = cells[:n], cellEntry[:n]
		s.ctx.CellsFrom(s.seq.first, cells)
		for j, c := range cells {
			cellEntry[j] = -1
			if e, ok := at[c.Pos]; ok && c.Pos >= 0 && c.Seq == s.seq.id {
				cellEntry[j] = e
			}
		}
		att := h2o.Attention{NLayer: sc.NLayer, NHead: sc.NHead, NCells: sc.NCells, NKV: n, Data: sc.Data[s.seq.first:]}
		step = h2o.StepScores(att, cellEntry, len(tokens), pa.Aggregate, step)
		for k, v := range step {
			pa.Tokens[k].Score += v
		}
		for l := 0; l < sc.NLayer; l++ {
			for h := 0; h < sc.NHead; h++ {
				r := l*sc.NHead + h
				row := h2o.Attention{NLayer: 1, NHead: 1, NCells: sc.NCells, NKV: n, Data: sc.Data[r*sc.NCells+s.seq.first:]}
				step = h2o.StepScores(row, cellEntry, len(tokens), h2o.AggSum, step)
				for k, v := range step {
					pa.Tokens[k].PerHead[r] += v
					pa.Tokens[k].PerLayer[l] += v
				}
			}
		}
	}
	if err := s.evict(-1); err != nil {
		return PromptAttention{}, err
	}
	s.ctx.Synchronize()
	s.seq.stats.PromptTokens += len(tokens)
	s.seq.stats.PromptTime += time.Since(start)
	return pa, nil
}
