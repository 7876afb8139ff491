package h2o

import (
	"slices"
	"testing"
)

// simulateReplace runs single replacement over a ReplacedState as a
// backend would (ggml_sum_argmin_move's semantics): the new token (key k)
// enters the spare cell, every cell adds its step, and in every head the
// smallest (sum, key) among keys [lo, k+1-recent) takes the new token. With
// shift (by head row and cell, as st), every key above the chosen one's moves
// down one, the chosen cell takes the spare's shift and the spare's is reset.
func simulateReplace(st *ReplacedState, nHeads, spare int, lo int32, recent int, k int32, shift []int32, attn func(head int, key int32) float32) {
	for h := range nHeads {
		row := h * st.NCells
		st.Keys[row+spare], st.Sums[row+spare] = k, 0
		best := -1
		for c := range st.NCells {
			q := st.Keys[row+c]
			if q < 0 {
				continue
			}
			st.Sums[row+c] += float64(attn(h, q))
			if c == spare || q < lo || q >= k+1-int32(recent) {
				continue
			}
			s := st.Sums[row+c]
			if best < 0 || s < st.Sums[row+best] || (s == st.Sums[row+best] && q < st.Keys[row+best]) {
				best = c
			}
		}
		if shift != nil {
			for c := range st.NCells {
				if st.Keys[row+c] > st.Keys[row+best] {
					shift[row+c]--
				}
			}
			shift[row+best], shift[row+spare] = shift[row+spare], 0
		}
		st.Sums[row+best], st.Keys[row+best] = st.Sums[row+spare], k
		st.Sums[row+spare], st.Keys[row+spare] = 0, -1
	}
}

// Single replacement on a tracker's exported state, taken back with
// AdoptReplaced, leaves every head exactly as the tracker's own steps
// (Append, AddStep, Evict) do: the same tokens, cells, scores and ages, with
// ties in the scores (the oldest goes) and with sinks. With rolling, each
// held key's position at the handoff (new tokens: at the budget, where they
// are decoded) plus the backend's shift is its position in the tracker.
func TestReplaceEqualsEvict(t *testing.T) {
	for _, rolling := range []bool{false, true} {
		for _, sinks := range []int{0, 3} {
			replaceEqualsEvict(t, rolling, sinks)
		}
	}
}

func replaceEqualsEvict(t *testing.T, rolling bool, sinks int) {
	const nLayer, nHead, budget = 2, 3, 12
	cfg, err := Config{Policy: H2O, Budget: budget, Recent: 4, SinkTokens: sinks, Rolling: rolling, Granularity: PerHead}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	// coarse values by stream index: many equal sums
	attn := func(step, head int, idx int64) float32 { return float32((int(idx)*7+step*3+head)%4) / 8 }
	host, err := NewHeadTracker(cfg, nLayer, nHead)
	if err != nil {
		t.Fatal(err)
	}
	nCells := budget + 8
	drive(t, host, nLayer, nHead, []int{8, 8, 1, 1}, false, attn, nil)
	lo, recent, ok := host.Replaceable()
	if !ok || lo != int32(sinks) || recent != 4 {
		t.Fatalf("rolling %v, sinks %d: Replaceable = %d, %d, %v", rolling, sinks, lo, recent, ok)
	}
	var st ReplacedState
	if err := host.ReplaceState(nCells, &st); err != nil {
		t.Fatal(err)
	}
	if st.Next != int32(host.Seen()) {
		t.Fatalf("state's next key %d, seen %d", st.Next, host.Seen())
	}
	// each held key's position when the state was handed over
	var shift, wpos []int32
	if rolling {
		shift, wpos = make([]int32, len(st.Keys)), make([]int32, len(st.Keys))
		for i, h := range host.heads {
			for _, e := range h.entries {
				wpos[i*nCells+int(e.Slot)] = e.Pos
			}
		}
	}
	dev, _ := NewHeadTracker(cfg, nLayer, nHead)
	drive(t, dev, nLayer, nHead, []int{8, 8, 1, 1}, false, attn, nil)
	spare := -1
	for c := range nCells {
		if !slices.Contains(host.Cells(), int32(c)) {
			spare = c
			break
		}
	}
	var toks []int32
	data := make([]float32, nLayer*nHead*nCells)
	for step := 4; step < 60; step++ {
		tok := int32(100 + step)
		toks = append(toks, tok)
		k := int32(host.Seen())
		if rolling {
			for i := range nLayer * nHead {
				wpos[i*nCells+spare] = host.NextPos() // decoded at the budget
			}
		}
		simulateReplace(&st, nLayer*nHead, spare, lo, recent, k, shift, func(h int, key int32) float32 { return attn(step, h, int64(key)) })
		if rolling {
			for i := range nLayer * nHead {
				wpos[i*nCells+spare] = 0
			}
		}
		// the host: the token decoded into the spare cell, then evicted down
		host.Append([]int32{tok}, nil)
		if err := host.Place([]int32{int32(spare)}); err != nil {
			t.Fatal(err)
		}
		clear(data)
		for i, h := range host.heads {
			for _, e := range h.entries {
				data[i*nCells+int(e.Slot)] = attn(step, i, e.Index)
			}
		}
		if err := host.AddStep(Attention{NLayer: nLayer, NHead: nHead, NCells: nCells, NKV: nCells, Data: data}); err != nil {
			t.Fatal(err)
		}
		if _, err := host.Evict(-1); err != nil {
			t.Fatal(err)
		}
		// the rows moved with the choice: wpos follows the new token
		if rolling {
			for i, h := range host.heads {
				for _, e := range h.entries {
					if e.Index == int64(k) {
						wpos[i*nCells+int(e.Slot)] = budget
					}
				}
			}
		}
	}
	if err := dev.AdoptReplaced(&st, toks); err != nil {
		t.Fatal(err)
	}
	if dev.Seen() != host.Seen() || dev.Evicted() != host.Evicted() || dev.NextPos() != host.NextPos() {
		t.Fatalf("rolling %v, sinks %d: seen %d/%d evicted %d/%d", rolling, sinks, dev.Seen(), host.Seen(), dev.Evicted(), host.Evicted())
	}
	for i := range host.heads {
		if a, b := host.heads[i].entries, dev.heads[i].entries; !slices.Equal(a, b) {
			t.Fatalf("rolling %v, sinks %d, head %d:\nhost %+v\nreplaced %+v", rolling, sinks, i, a, b)
		}
		if !rolling {
			continue
		}
		for _, e := range host.heads[i].entries {
			if c := i*nCells + int(e.Slot); wpos[c]+shift[c] != e.Pos {
				t.Fatalf("sinks %d, head %d, index %d: written at %d, shifted by %d, at %d in the tracker", sinks, i, e.Index, wpos[c], shift[c], e.Pos)
			}
		}
	}
}

// Only the recipe's rule at its budget is a single replacement.
func TestReplaceable(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want bool
	}{
		{Config{Policy: H2O, Budget: 12, Recent: 4}, true},
		{Config{Policy: H2O, Budget: 12, Recent: 4, Rolling: true}, true},
		{Config{Policy: H2O, Budget: 12, Recent: 4, Score: ScoreRule{Kind: "mean"}}, false},
		{Config{Policy: H2O, Budget: 12, Recent: 4, SinkTokens: 8}, false}, // sinks fill the heavy hitters: no candidate
	} {
		tc.cfg.Granularity = PerHead
		cfg, err := tc.cfg.Resolve()
		if err != nil {
			t.Fatal(err)
		}
		ht, _ := NewHeadTracker(cfg, 1, 2)
		drive(t, ht, 1, 2, []int{8, 8, 1}, false, func(step, head int, tok int64) float32 { return float32(tok % 3) }, nil)
		if _, _, ok := ht.Replaceable(); ok != tc.want {
			t.Errorf("%+v: Replaceable %v, want %v", tc.cfg, ok, tc.want)
		}
		if tc.want {
			ht.Reset()
			drive(t, ht, 1, 2, []int{5}, false, func(step, head int, tok int64) float32 { return 1 }, nil)
			if _, _, ok := ht.Replaceable(); ok {
				t.Error("Replaceable below the budget")
			}
		}
	}
}
