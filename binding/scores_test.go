package binding

import (
	"math"
	"testing"
)

const storyPrompt = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big red ball."

func promptTokens(t *testing.T, m *Model) []Token {
	toks, err := m.Tokenize(storyPrompt, true, false)
	if err != nil {
		t.Fatal(err)
	}
	return toks
}

func rowSum(r []float32) float64 {
	s := 0.0
	for _, v := range r {
		s += float64(v)
	}
	return s
}

// Softmax rows sum to 1, so each head's scores sum to the number of query
// tokens (times the group size when query heads are folded into KV heads).
func TestScoresSumToQueries(t *testing.T) {
	m := loadStories(t)
	info := m.Info()
	toks := promptTokens(t, m)
	for _, tc := range []struct {
		mode   ScoresMode
		heads  int
		per    float64
		layers int
	}{{ScoresQueryHead, info.NHead, 1, info.NLayer}, {ScoresKVHead, info.NHeadKV, float64(info.NHead / info.NHeadKV), info.NLayer},
		{ScoresLayer, 1, float64(info.NHead), info.NLayer}, {ScoresTotal, 1, float64(info.NHead * info.NLayer), 1}} {
		c := newCtx(t, m, ContextParams{NCtx: 256, Scores: tc.mode})
		decodeAll(t, c, toks, 0)
		s, ok := c.Scores()
		if !ok || s.NHead != tc.heads || s.NLayer != tc.layers || s.NKV < len(toks) {
			t.Fatalf("mode %d: scores %v ok=%v", tc.mode, s.NHead, ok)
		}
		check := func(nq int) {
			for l := 0; l < s.NLayer; l++ {
				for h := 0; h < s.NHead; h++ {
					want := float64(nq) * tc.per
					if got := rowSum(s.Row(l, h)); math.Abs(got-want) > 1e-4*want {
						t.Fatalf("mode %d layer %d head %d: sum %g, want %g", tc.mode, l, h, got, want)
					}
				}
			}
		}
		check(len(toks))
		// A single decoded token: one query.
		decodeStep(t, c, 42, len(toks))
		s, _ = c.Scores()
		check(1)
	}
}

// The patch's scores equal the row sums of llama.cpp's own kq_soft_max tensor,
// read through the eval callback.
func TestScoresMatchSoftmaxCapture(t *testing.T) {
	m := loadStories(t)
	info := m.Info()
	toks := promptTokens(t, m)
	capture := NewSoftmaxCapture("kq_soft_max", info.NLayer, info.NHead, 256)
	defer capture.Close()
	c, err := NewContext(m, ContextParams{NCtx: 256, Scores: ScoresQueryHead, Capture: capture})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	capture.Reset() // context creation may run a warm-up decode
	decodeAll(t, c, toks, 0)
	if capture.Seen() != info.NLayer {
		t.Fatalf("captured %d softmax tensors, want %d", capture.Seen(), info.NLayer)
	}
	s, _ := c.Scores()
	sums := capture.Sums()
	for l := 0; l < info.NLayer; l++ {
		for h := 0; h < info.NHead; h++ {
			row := s.Row(l, h)
			for j := range row {
				want := sums[(l*info.NHead+h)*256+j]
				if math.Abs(float64(row[j]-want)) > 1e-5 {
					t.Fatalf("layer %d head %d cell %d: %g vs softmax %g", l, h, j, row[j], want)
				}
			}
		}
	}
	// Layer mode is the sum over all heads.
	cl := newCtx(t, m, ContextParams{NCtx: 256, Scores: ScoresLayer})
	decodeAll(t, cl, toks, 0)
	sl, _ := cl.Scores()
	for l := 0; l < info.NLayer; l++ {
		for j, v := range sl.Row(l, 0) {
			want := float32(0)
			for q := 0; q < info.NHead; q++ {
				want += sums[(l*info.NHead+q)*256+j]
			}
			if math.Abs(float64(v-want)) > 1e-5 {
				t.Fatalf("layer %d cell %d: layer score %g vs %g", l, j, v, want)
			}
		}
	}
	// KV-head mode is the group sum of the query-head mode.
	ckv := newCtx(t, m, ContextParams{NCtx: 256, Scores: ScoresKVHead})
	decodeAll(t, ckv, toks, 0)
	skv, _ := ckv.Scores()
	g := info.NHead / info.NHeadKV
	for l := 0; l < info.NLayer; l++ {
		for hk := 0; hk < info.NHeadKV; hk++ {
			for j, v := range skv.Row(l, hk) {
				want := float32(0)
				for q := hk * g; q < (hk+1)*g; q++ {
					want += sums[(l*info.NHead+q)*256+j]
				}
				if math.Abs(float64(v-want)) > 1e-5 {
					t.Fatalf("kv head %d layer %d cell %d: %g vs %g", hk, l, j, v, want)
				}
			}
		}
	}
}

// Cells beyond the used range and cells of other sequences get exactly 0;
// in a prompt, the first token gets attention from every query, the last only from itself.
func TestScoresMasked(t *testing.T) {
	m := loadStories(t)
	toks := promptTokens(t, m)
	c := newCtx(t, m, ContextParams{NCtx: 256, NSeqMax: 2, Unified: true, Scores: ScoresKVHead})
	b := NewBatch(2 * len(toks))
	defer b.Close()
	for i, tk := range toks {
		b.Add(tk, int32(i), 0, false)
	}
	for i, tk := range toks[:10] {
		b.Add(tk, int32(i), 1, i == 9)
	}
	if err := c.Decode(b); err != nil {
		t.Fatal(err)
	}
	cells := make([]Cell, c.NCtx())
	c.Cells(cells)
	// Decode one token of sequence 0: sequence 1's cells must receive nothing.
	b.Clear()
	b.Add(7, int32(len(toks)), 0, true)
	if err := c.Decode(b); err != nil {
		t.Fatal(err)
	}
	s, _ := c.Scores()
	seq1 := 0
	for l := 0; l < s.NLayer; l++ {
		for h := 0; h < s.NHead; h++ {
			row := s.Data[(l*s.NHead+h)*s.NCells : (l*s.NHead+h+1)*s.NCells]
			for j, v := range row {
				empty := cells[j].Pos < 0 && j != len(toks)+10
				if (cells[j].Seq == 1 || empty) && v != 0 {
					t.Fatalf("layer %d head %d cell %d (seq %d pos %d) got %g, want exactly 0", l, h, j, cells[j].Seq, cells[j].Pos, v)
				}
				if cells[j].Seq == 1 {
					seq1++
				}
			}
		}
	}
	if seq1 == 0 {
		t.Fatal("no cells of sequence 1 found")
	}
}

// With a KV stream per sequence, each sequence's scores sit in its stream's
// cells and equal those of the same sequence decoded alone, also when the
// batch is split into micro-batches of different streams (unequal lengths,
// a sequence missing from a step).
func TestScoresPerStream(t *testing.T) {
	m := loadStories(t)
	toks := promptTokens(t, m)
	lens := []int{20, 12, 16}
	// f32 caches, and a relative tolerance for kernels that differ with the batch size
	// (with a GPU backend loaded, large batches are offloaded to it): a
	// sequence reading another's stream would be off by far more (the GPU
	// machine measured 9e-4).
	multi := newCtx(t, m, ContextParams{NCtx: 3 * 256, NSeqMax: 3, Scores: ScoresKVHead, TypeK: "f32", TypeV: "f32"})
	lay := multi.Layout()
	if lay.NStream != 3 || lay.StreamSize != 256 {
		t.Fatalf("layout %+v, want 3 streams of 256", lay)
	}
	alone := make([]*Context, len(lens))
	b := NewBatch(64)
	defer b.Close()
	for s, n := range lens {
		alone[s] = newCtx(t, m, ContextParams{NCtx: 256, Scores: ScoresKVHead, TypeK: "f32", TypeV: "f32"})
		decodeAll(t, alone[s], toks[:n], 0)
		for i, tk := range toks[:n] {
			b.Add(tk, int32(i), int32(s), i == n-1)
		}
	}
	if err := multi.Decode(b); err != nil {
		t.Fatal(err)
	}
	compare := func(step string, seqs []int) {
		t.Helper()
		got, _ := multi.Scores()
		cells := make([]Cell, lay.StreamSize)
		for s := range lens {
			first := lay.Stream(s)
			multi.CellsFrom(first, cells)
			want, _ := alone[s].Scores()
			active := false
			for _, a := range seqs {
				active = active || a == s
			}
			for l := 0; l < got.NLayer; l++ {
				for h := 0; h < got.NHead; h++ {
					row := got.Data[(l*got.NHead+h)*got.NCells+first:][:lay.StreamSize]
					ref := want.Row(l, h)
					for j, v := range row {
						if cells[j].Pos >= 0 && cells[j].Seq != int32(s) {
							t.Fatalf("%s: cell %d of stream %d holds sequence %d", step, j, s, cells[j].Seq)
						}
						w := float32(0)
						if active && j < len(ref) {
							w = ref[j]
						}
						if (w == 0 && v != 0) || math.Abs(float64(v-w)) > 5e-3*math.Max(1, math.Abs(float64(w))) {
							t.Fatalf("%s: seq %d layer %d head %d cell %d: %g, alone %g", step, s, l, h, j, v, w)
						}
					}
				}
			}
		}
	}
	compare("prompts", []int{0, 1, 2})
	// A step of sequences 0 and 2 only (two micro-batches: 1 is missing).
	b.Clear()
	for _, s := range []int{0, 2} {
		b.Add(42, int32(lens[s]), int32(s), true)
		one := NewBatch(1)
		one.Add(42, int32(lens[s]), 0, true)
		if err := alone[s].Decode(one); err != nil {
			t.Fatal(err)
		}
		one.Close()
	}
	if err := multi.Decode(b); err != nil {
		t.Fatal(err)
	}
	compare("step", []int{0, 2})
}

// A prompt split into micro-batches gives the same totals as one batch.
func TestScoresMicroBatches(t *testing.T) {
	m := loadStories(t)
	toks := promptTokens(t, m)
	one := newCtx(t, m, ContextParams{NCtx: 256, NBatch: 256, NUbatch: 256, Scores: ScoresKVHead})
	split := newCtx(t, m, ContextParams{NCtx: 256, NBatch: 256, NUbatch: 8, Scores: ScoresKVHead})
	decodeAll(t, one, toks, 0)
	decodeAll(t, split, toks, 0)
	a, _ := one.Scores()
	b, _ := split.Scores()
	if a.NKV < len(toks) || b.NKV < len(toks) {
		t.Fatalf("n_kv %d / %d < %d tokens", a.NKV, b.NKV, len(toks))
	}
	for l := 0; l < a.NLayer; l++ {
		for h := 0; h < a.NHead; h++ {
			ra, rb := a.Row(l, h), b.Row(l, h)
			for j := 0; j < len(toks); j++ {
				if math.Abs(float64(ra[j]-rb[j])) > 1e-4 {
					t.Fatalf("layer %d head %d cell %d: one batch %g, micro-batches %g", l, h, j, ra[j], rb[j])
				}
			}
		}
	}
}

func TestScoresNoAllocs(t *testing.T) {
	m := loadStories(t)
	c := newCtx(t, m, ContextParams{NCtx: 256, Scores: ScoresKVHead})
	decodeAll(t, c, promptTokens(t, m), 0)
	cells := make([]Cell, 256)
	c.Cells(cells)
	allocs := testing.AllocsPerRun(100, func() {
		s, _ := c.Scores()
		_ = s.Row(0, 0)
		c.Cells(cells)
	})
	if allocs != 0 {
		t.Fatalf("%g allocations per score read", allocs)
	}
}

// The total mode's one row is, cell by cell, the sum of the per-layer rows
// (summed in the graph instead of on the host), here for a decode step.
func TestScoresTotalSumsLayers(t *testing.T) {
	m := loadStories(t)
	toks := promptTokens(t, m)
	rows := map[ScoresMode][]float32{}
	var nkv int
	for _, mode := range []ScoresMode{ScoresLayer, ScoresTotal} {
		c := newCtx(t, m, ContextParams{NCtx: 256, Scores: mode, TypeK: "f32", TypeV: "f32"})
		decodeAll(t, c, toks, 0)
		decodeStep(t, c, 42, len(toks))
		s, _ := c.Scores()
		nkv = s.NKV
		sum := make([]float32, s.NCells)
		for l := 0; l < s.NLayer; l++ {
			for j, v := range s.Row(l, 0) {
				sum[j] += v
			}
		}
		rows[mode] = sum
	}
	for j := 0; j < nkv; j++ {
		a, b := rows[ScoresLayer][j], rows[ScoresTotal][j]
		if math.Abs(float64(a-b)) > 1e-5*math.Max(1, math.Abs(float64(a))) {
			t.Fatalf("cell %d: layers sum to %g, total %g", j, a, b)
		}
	}
}

// A decode step reduces the heads with a pooling pass, a prompt with a
// transposed sum: both give, cell by cell, the sums of the per-query-head rows.
func TestScoresGroupSums(t *testing.T) {
	m := loadStories(t)
	info := m.Info()
	toks := promptTokens(t, m)
	grp := info.NHead / info.NHeadKV
	for _, step := range []bool{false, true} {
		got := map[ScoresMode]Scores{}
		for _, mode := range []ScoresMode{ScoresQueryHead, ScoresKVHead, ScoresLayer} {
			c := newCtx(t, m, ContextParams{NCtx: 256, Scores: mode, TypeK: "f32", TypeV: "f32"})
			decodeAll(t, c, toks, 0)
			if step {
				decodeStep(t, c, 42, len(toks))
			}
			s, _ := c.Scores()
			s.Data = append([]float32(nil), s.Data...)
			got[mode] = s
		}
		q := got[ScoresQueryHead]
		for l := 0; l < q.NLayer; l++ {
			for j := 0; j < q.NKV; j++ {
				all := 0.0
				for k := 0; k < info.NHeadKV; k++ {
					want := 0.0
					for g := 0; g < grp; g++ {
						want += float64(q.Row(l, k*grp+g)[j])
					}
					all += want
					if v := float64(got[ScoresKVHead].Row(l, k)[j]); math.Abs(v-want) > 1e-6*math.Max(1, want) {
						t.Fatalf("step %v layer %d KV head %d cell %d: %g, query heads sum to %g", step, l, k, j, v, want)
					}
				}
				if v := float64(got[ScoresLayer].Row(l, 0)[j]); math.Abs(v-all) > 1e-6*math.Max(1, all) {
					t.Fatalf("step %v layer %d cell %d: layer row %g, query heads sum to %g", step, l, j, v, all)
				}
			}
		}
	}
}
