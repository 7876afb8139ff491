package h2o

import (
	"math/rand"
	"testing"
)

// BenchmarkHeadTrackerStep is one decode step of per-head eviction on a
// Llama-2-7B shape (32 layers x 32 KV heads, B = 2,048): the Go policy's
// share of a step's cost (ranking, compaction, moves). With rolling every key
// after a head's evicted token is re-rotated: a move each.
func BenchmarkHeadTrackerStep(b *testing.B) {
	for _, rolling := range []bool{false, true} {
		name := "rolling=off"
		if rolling {
			name = "rolling=on"
		}
		b.Run(name, func(b *testing.B) { benchHeadStep(b, rolling) })
	}
}

func benchHeadStep(b *testing.B, rolling bool) {
	const nLayer, nHead, budget, nCells = 32, 32, 2048, 2304
	ht, err := NewHeadTracker(resolve(b, Config{Policy: H2O, Budget: budget, HeavyHitters: budget / 2, Rolling: rolling, Granularity: PerHead, Score: ScoreRule{Kind: "ema", Gamma: 0.9}}), nLayer, nHead)
	if err != nil {
		b.Fatal(err)
	}
	ht.DenseShift(nCells) // as the session does on a GPU
	rng := rand.New(rand.NewSource(1))
	data := make([]float32, nLayer*nHead*nCells)
	for i := range data {
		data[i] = rng.Float32()
	}
	att := Attention{NLayer: nLayer, NHead: nHead, NCells: nCells, NKV: nCells, Data: data}
	cells := make([]int32, budget)
	for i := range cells {
		cells[i] = int32(i)
	}
	ht.Append(make([]int32, budget), nil)
	if err := ht.Place(cells); err != nil {
		b.Fatal(err)
	}
	free := int32(budget)
	tok := []int32{1}
	moves := 0
	step := func() {
		ht.Append(tok, nil)
		if err := ht.Place([]int32{free}); err != nil {
			b.Fatal(err)
		}
		if err := ht.AddStep(att); err != nil {
			b.Fatal(err)
		}
		p, err := ht.Evict(-1)
		if err != nil {
			b.Fatal(err)
		}
		moves += len(p.Moves)
	}
	// the first step grows every head's entries past the budget once, as the
	// first eviction of a session does; the steady state does not
	step()
	moves = 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(moves)/float64(b.N), "moves/op")
}
