package h2o

import (
	"math/rand"
	"runtime"
	"slices"
	"testing"
)

// fakeCache is an independent model of a KV cache under per-head eviction:
// per (layer, head) and cell, the stream index of the token whose key is
// there and the position that key is rotated at; per cell the position the
// mask sees. New tokens take the lowest free cells, as llama.cpp does.
type fakeCache struct {
	nHeads int
	tok    [][]int64 // [head][cell], -1 empty
	rot    [][]int32 // [head][cell]
	pos    []int32   // [cell], -1 empty
}

func newFakeCache(nHeads, nCells int) *fakeCache {
	f := &fakeCache{nHeads: nHeads, pos: make([]int32, nCells)}
	for i := range f.pos {
		f.pos[i] = -1
	}
	for range nHeads {
		tok, rot := make([]int64, nCells), make([]int32, nCells)
		for j := range tok {
			tok[j] = -1
		}
		f.tok, f.rot = append(f.tok, tok), append(f.rot, rot)
	}
	return f
}

// decode writes tokens with stream indices idx at positions pos into free
// cells and returns the cells.
func (f *fakeCache) decode(t *testing.T, idx []int64, pos []int32) []int32 {
	var cells []int32
	for i := range idx {
		c := slices.Index(f.pos, -1)
		if c < 0 {
			t.Fatalf("fake cache full")
		}
		f.pos[c] = pos[i]
		for h := range f.nHeads {
			f.tok[h][c], f.rot[h][c] = idx[i], pos[i]
		}
		cells = append(cells, int32(c))
	}
	return cells
}

func (f *fakeCache) apply(p HeadPlan, nHead int) {
	type row struct {
		tok int64
		rot int32
	}
	read := make([]row, len(p.Moves)) // all reads before writes
	for i, m := range p.Moves {
		h := int(m.Layer)*nHead + int(m.Head)
		read[i] = row{f.tok[h][m.Src], f.rot[h][m.Src] + m.Delta}
	}
	for i, m := range p.Moves {
		h := int(m.Layer)*nHead + int(m.Head)
		f.tok[h][m.Dst], f.rot[h][m.Dst] = read[i].tok, read[i].rot
	}
	nCells := len(f.pos)
	for i, d := range p.Shift {
		if d == 0 {
			continue
		}
		layer, cell, head := i/(nCells*nHead), i/nHead%nCells, i%nHead
		h := layer*nHead + head
		for _, m := range p.Moves {
			if int(m.Layer)*nHead+int(m.Head) == h && (int(m.Src) == cell || int(m.Dst) == cell) {
				panic("a shifted row is also moved")
			}
		}
		f.rot[h][cell] += d
	}
	for i, c := range p.Cells {
		f.pos[c] = p.Pos[i]
	}
}

// check compares the tracker with the cache: every head's tokens are where
// it says, keys rotated at the positions it says, the mask positions below
// the next token with the largest just before it, no more than limit cells used.
func (f *fakeCache) check(t *testing.T, ht *HeadTracker, limit int) {
	t.Helper()
	used, maxPos := 0, int32(-1)
	for c, p := range f.pos {
		if p < 0 {
			continue
		}
		used++
		maxPos = max(maxPos, p)
		if !slices.Contains(ht.Cells(), int32(c)) {
			t.Fatalf("cell %d occupied (pos %d) but not in the tracker's cells %v", c, p, ht.Cells())
		}
	}
	if used != ht.Len() || used > limit {
		t.Fatalf("%d cells used, tracker holds %d, limit %d", used, ht.Len(), limit)
	}
	if used > 0 && maxPos != ht.NextPos()-1 {
		t.Fatalf("largest cell position %d, next token at %d", maxPos, ht.NextPos())
	}
	for i, h := range ht.heads {
		for _, e := range h.Entries() {
			if f.tok[i][e.Slot] != e.Index || f.rot[i][e.Slot] != e.Pos {
				t.Fatalf("head %d: token %d at pos %d should be in cell %d; the cell holds token %d rotated at %d",
					i, e.Index, e.Pos, e.Slot, f.tok[i][e.Slot], f.rot[i][e.Slot])
			}
		}
	}
}

// drive runs a stream of chunks through a head tracker and the fake cache;
// attn(head, token) is the attention a head's queries give a token at a step.
func drive(t *testing.T, ht *HeadTracker, nLayer, nHead int, chunks []int, dense bool, attn func(step, head int, tok int64) float32, after func(step int)) {
	t.Helper()
	nCells := ht.Config().Budget + slices.Max(chunks)
	if dense {
		ht.DenseShift(nCells)
	}
	shifted := false
	f := newFakeCache(nLayer*nHead, nCells)
	data := make([]float32, nLayer*nHead*nCells)
	var pos []int32
	for step, c := range chunks {
		toks := make([]int32, c)
		first := ht.Seen()
		pos = ht.Append(toks, pos)
		idx := make([]int64, c)
		for i := range idx {
			idx[i] = first + int64(i)
		}
		if err := ht.Place(f.decode(t, idx, pos)); err != nil {
			t.Fatal(err)
		}
		f.check(t, ht, ht.Config().Budget+c)
		for h := range nLayer * nHead {
			for cell := range nCells {
				data[h*nCells+cell] = 0
				if tok := f.tok[h][cell]; tok >= 0 && f.pos[cell] >= 0 {
					data[h*nCells+cell] = attn(step, h, tok)
				}
			}
		}
		if err := ht.AddStep(Attention{NLayer: nLayer, NHead: nHead, NCells: nCells, NKV: nCells, Data: data}); err != nil {
			t.Fatal(err)
		}
		p, err := ht.Evict(-1)
		if err != nil {
			t.Fatal(err)
		}
		f.apply(p, nHead)
		shifted = shifted || p.Shift != nil
		f.check(t, ht, ht.Config().Budget)
		if after != nil {
			after(step)
		}
	}
	if dense && ht.Config().Rolling && !shifted {
		t.Fatal("rolling with dense shifts produced none")
	}
}

func testChunks() []int {
	chunks := []int{7, 7, 7, 3, 7, 1, 5}
	for range 60 {
		chunks = append(chunks, 1)
	}
	return append(chunks, 6, 1, 1, 7, 1)
}

// When every head ranks the tokens the same way, per-head eviction keeps in
// every head exactly the tokens per-token eviction keeps.
func TestPerHeadEqualsPerTokenWhenHeadsAgree(t *testing.T) {
	for _, c := range []struct{ rolling, dense bool }{{false, false}, {true, false}, {true, true}} {
		rolling := c.rolling
		for _, rule := range []string{"cum", "ema:0.9"} {
			r, _ := ParseScoreRule(rule)
			cfg := Config{Policy: H2O, Budget: 12, HeavyHitters: 6, SinkTokens: 1, Rolling: rolling, Score: r}
			tok := mustTracker(t, cfg)
			cfg.Granularity = PerHead
			const nLayer, nHead = 2, 3
			ht, err := NewHeadTracker(resolve(t, cfg), nLayer, nHead)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewSource(1))
			var a []float32 // a[token] at this step, the same for all heads
			attn := func(step, head int, idx int64) float32 { return a[idx] }
			chunks := testChunks()
			step := 0
			drive(t, ht, nLayer, nHead, chunks, c.dense, func(s, head int, idx int64) float32 {
				if s != step || a == nil {
					// a new step: draw the attention of every token so far and
					// run the per-token tracker on the same step
					step = s
					a = make([]float32, ht.Seen())
					for i := range a {
						a[i] = rng.Float32()
					}
					tok.Append(make([]int32, chunks[s]), nil)
					st := make([]float64, tok.Len())
					for i, e := range tok.Entries() {
						st[i] = float64(a[e.Index]) * nLayer * nHead // summed over heads
					}
					if err := tok.AddStep(st); err != nil {
						t.Fatal(err)
					}
					tok.Evict(-1)
				}
				return attn(s, head, idx)
			}, func(s int) {
				var want []int64
				for _, e := range tok.Entries() {
					want = append(want, e.Index)
				}
				for i, h := range ht.heads {
					var got []int64
					for _, e := range h.Entries() {
						got = append(got, e.Index)
					}
					if !slices.Equal(got, want) {
						t.Fatalf("rolling %v %s step %d head %d keeps %v, per token %v", rolling, rule, s, i, got, want)
					}
					if h.NextPos() != tok.NextPos() {
						t.Fatalf("next position %d, per token %d", h.NextPos(), tok.NextPos())
					}
				}
			})
			if ht.Evicted() != tok.Evicted() || ht.Evicted() == 0 {
				t.Fatalf("evicted %d, per token %d", ht.Evicted(), tok.Evicted())
			}
		}
	}
}

// With heads that disagree, each head keeps what a tracker of its own, fed
// only that head's attention, keeps; and the heads end up keeping different
// tokens in the same cells.
func TestPerHeadIndependentHeads(t *testing.T) {
	for _, c := range []struct{ rolling, dense bool }{{false, false}, {true, false}, {true, true}} {
		cfg := Config{Policy: H2O, Budget: 10, HeavyHitters: 6, Rolling: c.rolling, Granularity: PerHead}
		const nLayer, nHead = 2, 2
		ht, err := NewHeadTracker(resolve(t, cfg), nLayer, nHead)
		if err != nil {
			t.Fatal(err)
		}
		refCfg := cfg
		refCfg.Granularity = PerToken
		refs := make([]*Tracker, nLayer*nHead)
		for i := range refs {
			refs[i] = mustTracker(t, refCfg)
		}
		// a fixed random "importance" of each token per head
		rng := rand.New(rand.NewSource(2))
		imp := make([][]float32, nLayer*nHead)
		for i := range imp {
			for range 200 {
				imp[i] = append(imp[i], rng.Float32())
			}
		}
		chunks := testChunks()
		fed := -1
		drive(t, ht, nLayer, nHead, chunks, c.dense, func(s, head int, idx int64) float32 {
			if s != fed {
				fed = s
				for i, r := range refs {
					r.Append(make([]int32, chunks[s]), nil)
					st := make([]float64, r.Len())
					for j, e := range r.Entries() {
						st[j] = float64(imp[i][e.Index])
					}
					r.AddStep(st)
					r.Evict(-1)
				}
			}
			return imp[head][idx]
		}, func(s int) {
			for i, h := range ht.heads {
				if !slices.EqualFunc(h.Entries(), refs[i].Entries(), func(a, b Entry) bool { return a.Index == b.Index && a.Pos == b.Pos }) {
					t.Fatalf("step %d head %d differs from its own tracker", s, i)
				}
			}
		})
		differ := false
		for _, h := range ht.heads[1:] {
			differ = differ || !slices.EqualFunc(h.Entries(), ht.heads[0].Entries(), func(a, b Entry) bool { return a.Index == b.Index })
		}
		if !differ {
			t.Fatal("all heads kept the same tokens")
		}
	}
}

func TestGranularityConfig(t *testing.T) {
	if g, err := ParseGranularity("HEAD"); err != nil || g != PerHead {
		t.Fatalf("%v %v", g, err)
	}
	if _, err := ParseGranularity("layer"); err == nil {
		t.Fatal("layer accepted")
	}
	for _, bad := range []Config{
		{Policy: Full, Granularity: PerHead},
		{Policy: Window, Budget: 8, Granularity: PerHead},
		{Policy: Sink, Budget: 8, Granularity: PerHead},
		{Policy: H2O, Budget: 8, HeavyHitters: 4, Granularity: PerHead, Aggregate: AggMax},
	} {
		if _, err := bad.Resolve(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	c, err := Config{Policy: H2O, Budget: 8, HeavyHitters: -1}.Resolve()
	if err != nil || c.Granularity != PerToken {
		t.Fatalf("default granularity: %+v %v", c, err)
	}
	if _, err := NewHeadTracker(c, 1, 1); err == nil {
		t.Fatal("head tracker accepted granularity token")
	}
}

// The single-eviction fast path evicts exactly what the full sort does.
func TestSelectKeepOneEviction(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for trial := range 200 {
		n := 3 + rng.Intn(40)
		tr := mustTracker(t, Config{Policy: H2O, Budget: n - 1, HeavyHitters: (n - 1) / 2, SinkTokens: rng.Intn(2)})
		tr.Append(make([]int32, n), nil)
		for i := range tr.entries {
			tr.entries[i].Score = float64(rng.Intn(4)) // many ties
		}
		fast := slices.Clone(tr.selectKeep(n - 1))
		// the sort path: ask for one more slot than the fast path handles, then drop the worst sorted
		ref := refKeep(tr, n-1)
		if !slices.Equal(fast, ref) {
			t.Fatalf("trial %d: fast %v, sort %v", trial, fast, ref)
		}
	}
}

// refKeep is selectKeep's sorting rule written out: protected tokens, then
// candidates by score, ties to the more recent.
func refKeep(tr *Tracker, limit int) []bool {
	n := len(tr.entries)
	keep := make([]bool, n)
	recent := min(tr.cfg.Recent, limit)
	sinks := min(tr.cfg.SinkTokens, limit-recent)
	for i := n - recent; i < n; i++ {
		keep[i] = true
	}
	for i := 0; i < sinks; i++ {
		keep[i] = true
	}
	var cand []int
	for i := sinks; i < n-recent; i++ {
		cand = append(cand, i)
	}
	slices.SortStableFunc(cand, func(a, b int) int {
		sa, sb := tr.entries[a].Score, tr.entries[b].Score
		if sa != sb {
			if sa > sb {
				return -1
			}
			return 1
		}
		return b - a
	})
	for _, i := range cand[:min(limit-recent-sinks, len(cand))] {
		keep[i] = true
	}
	return keep
}

// Heads ranked on several goroutines give exactly the serial result. The
// workers follow GOMAXPROCS: the test sets it, so that the parallel path
// runs on any machine (goroutines interleave even on one core).
func TestPerHeadParallelMatchesSerial(t *testing.T) {
	defer func(v int) { parallelMin = v }(parallelMin)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	run := func(min int) *HeadTracker {
		parallelMin = min
		ht, err := NewHeadTracker(resolve(t, Config{Policy: H2O, Budget: 16, HeavyHitters: 8, Rolling: true, Granularity: PerHead, Score: ScoreRule{Kind: "ema", Gamma: 0.9}}), 3, 5)
		if err != nil {
			t.Fatal(err)
		}
		drive(t, ht, 3, 5, testChunks(), true, func(step, head int, tok int64) float32 {
			x := uint32(step*7919+head*104729) ^ uint32(tok*2654435761)
			x ^= x >> 13
			x *= 0x5bd1e995
			return float32(x%1000) / 1000
		}, nil)
		return ht
	}
	serial, par := run(1<<30), run(1)
	if len(serial.work) != 1 || len(par.work) != 4 {
		t.Fatalf("%d serial and %d parallel workers, want 1 and 4", len(serial.work), len(par.work))
	}
	for i := range serial.heads {
		if !slices.Equal(serial.heads[i].Entries(), par.heads[i].Entries()) {
			t.Fatalf("head %d: parallel and serial differ", i)
		}
	}
}

// A single eviction takes a shortcut (evictOne) past the general loop of
// evictHead: on the same stream (scores with many ties, prompt chunks and
// single steps, sinks, no recent window, rolling with and without dense
// shifts) both give the same plans, step by step, and the same heads.
func TestPerHeadSingleEvictionShortcut(t *testing.T) {
	for _, c := range []struct {
		cfg   Config
		dense bool
	}{
		{Config{Policy: H2O, Budget: 12, HeavyHitters: 6}, false},
		{Config{Policy: H2O, Budget: 12, HeavyHitters: 6, Rolling: true}, false},
		{Config{Policy: H2O, Budget: 12, HeavyHitters: 6, Rolling: true}, true},
		{Config{Policy: H2O, Budget: 12, HeavyHitters: 11, Rolling: true, SinkTokens: 2}, true}, // a recent window of one
		{Config{Policy: H2O, Budget: 9, HeavyHitters: 4, SinkTokens: 1, Score: ScoreRule{Kind: "ema", Gamma: 0.9}}, false},
	} {
		c.cfg.Granularity = PerHead
		const nLayer, nHead = 2, 3
		nCells := c.cfg.Budget + 7
		var trackers [2]*HeadTracker
		for k := range trackers {
			ht, err := NewHeadTracker(resolve(t, c.cfg), nLayer, nHead)
			if err != nil {
				t.Fatal(err)
			}
			if c.dense {
				ht.DenseShift(nCells)
			}
			trackers[k] = ht
		}
		trackers[1].noShortcut = true
		rng := rand.New(rand.NewSource(7))
		data := make([]float32, nLayer*nHead*nCells)
		free := make([]int32, 0, nCells) // cells not occupied, lowest first
		for cell := range nCells {
			free = append(free, int32(cell))
		}
		singles := 0
		for step, chunk := range testChunks() {
			cells := slices.Clone(free[:chunk])
			free = free[chunk:]
			for i := range data {
				data[i] = float32(rng.Intn(3)) // ties everywhere
			}
			var plans [2]HeadPlan
			for k, ht := range trackers {
				ht.Append(make([]int32, chunk), nil)
				if err := ht.Place(cells); err != nil {
					t.Fatal(err)
				}
				if err := ht.AddStep(Attention{NLayer: nLayer, NHead: nHead, NCells: nCells, NKV: nCells, Data: data}); err != nil {
					t.Fatal(err)
				}
				p, err := ht.Evict(-1)
				if err != nil {
					t.Fatal(err)
				}
				// copies: the plan's slices are the tracker's, reused by its next eviction
				p.Moves, p.Shift, p.Cells, p.Pos = slices.Clone(p.Moves), slices.Clone(p.Shift), slices.Clone(p.Cells), slices.Clone(p.Pos)
				plans[k] = p
			}
			a, b := plans[0], plans[1]
			if a.Evicted != b.Evicted || !slices.Equal(a.Moves, b.Moves) || !slices.Equal(a.Shift, b.Shift) ||
				!slices.Equal(a.Cells, b.Cells) || !slices.Equal(a.Pos, b.Pos) {
				t.Fatalf("%+v, step %d: shortcut plan %+v, general %+v", c.cfg, step, a, b)
			}
			if a.Evicted == 1 {
				singles++
			}
			for i := range trackers[0].heads {
				if !slices.Equal(trackers[0].heads[i].Entries(), trackers[1].heads[i].Entries()) {
					t.Fatalf("%+v, step %d: head %d differs", c.cfg, step, i)
				}
			}
			for i, cell := range a.Cells {
				if a.Pos[i] < 0 {
					free = append(free, cell)
				}
			}
			slices.Sort(free)
		}
		if singles < 50 {
			t.Fatalf("%+v: %d single evictions, the shortcut barely ran", c.cfg, singles)
		}
	}
}
