package h2o

import (
	"math"
	"math/rand"
	"slices"
	"sort"
	"testing"
)

func mustTracker(t *testing.T, c Config) *Tracker {
	t.Helper()
	return NewTracker(resolve(t, c))
}

func resolve(tb testing.TB, c Config) Resolved {
	tb.Helper()
	p, err := c.Resolve()
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestConfigRecipeMapping(t *testing.T) {
	c, err := Config{Policy: H2O, Budget: 256, HeavyHitters: -1}.Resolve()
	if err != nil || c.HeavyHitters != 128 || c.Recent != 128 {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	c, err = Config{Policy: H2O, Budget: 100, HeavyHitters: 30}.Resolve()
	if err != nil || c.Recent != 70 {
		t.Fatalf("H=30: %+v %v", c, err)
	}
	for _, bad := range []Config{
		{Policy: H2O, Budget: 64, HeavyHitters: 64},  // H = B: nothing recent
		{Policy: H2O, Budget: 64, HeavyHitters: 100}, // H > B
		{Policy: H2O, Budget: 0, HeavyHitters: -1},
		{Policy: Sink, Budget: 4},                // sinks fill it
		{Policy: Window, Budget: 10, Recent: 20}, // recent > budget
		{Policy: H2O, Budget: 10, HeavyHitters: 2, SinkTokens: 3},
	} {
		if _, err := bad.Resolve(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if c, err := (Config{Policy: Full}).Resolve(); err != nil || c.Evicts() {
		t.Fatalf("full: %+v %v", c, err)
	}
	if c, _ := (Config{Policy: Sink, Budget: 64}).Resolve(); c.SinkTokens != 4 || c.Recent != 60 {
		t.Fatalf("sink defaults: %+v", c)
	}
}

func TestScoreRules(t *testing.T) {
	// One token receives 1, 0, 2, 0 over four steps (a second token entered at step 3).
	steps := [][]float64{{1}, {0}, {2, 5}, {0, 1}}
	want := map[string]float64{"cum": 3, "mean": 3.0 / 4, "ema:0.5": ((1*0.5+0)*0.5+2)*0.5 + 0, "last": 0}
	want2 := map[string]float64{"cum": 6, "mean": 3, "ema:0.5": 5*0.5 + 1, "last": 1}
	for rule, w := range want {
		r, err := ParseScoreRule(rule)
		if err != nil {
			t.Fatal(err)
		}
		tr := mustTracker(t, Config{Policy: H2O, Budget: 8, HeavyHitters: 4, Score: r})
		for i, s := range steps {
			if i == 0 || i == 2 {
				tr.Append([]int32{7}, nil)
			}
			if err := tr.AddStep(s); err != nil {
				t.Fatal(err)
			}
		}
		e := tr.Entries()
		if math.Abs(e[0].Score-w) > 1e-12 || math.Abs(e[1].Score-want2[rule]) > 1e-12 {
			t.Errorf("%s: scores %g, %g; want %g, %g", rule, e[0].Score, e[1].Score, w, want2[rule])
		}
		if e[0].Age != 4 || e[1].Age != 2 {
			t.Errorf("%s: ages %d, %d", rule, e[0].Age, e[1].Age)
		}
	}
	for _, bad := range []string{"ema:1", "ema:x", "median"} {
		if _, err := ParseScoreRule(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The recipe's prefill cut: top-H older tokens by score plus the last R.
func TestEvictPrefillTopH(t *testing.T) {
	tr := mustTracker(t, Config{Policy: H2O, Budget: 5, HeavyHitters: 2, Rolling: true})
	tr.Append([]int32{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, nil)
	tr.AddStep([]float64{5, 1, 9, 0, 3, 8, 0, 0, 0, 0})
	plan := tr.Evict(-1)
	var kept []int32
	for _, e := range tr.Entries() {
		kept = append(kept, e.Token)
	}
	// heavy: index 2 (9) and 5 (8); recent: 7, 8, 9
	if !slices.Equal(kept, []int32{12, 15, 17, 18, 19}) {
		t.Fatalf("kept %v", kept)
	}
	wantRemove := []Range{{0, 2}, {3, 5}, {6, 7}}
	if !slices.Equal(plan.Remove, wantRemove) {
		t.Fatalf("remove %v, want %v", plan.Remove, wantRemove)
	}
	// rolling: 2 -> 0, 5 -> 1, 7..9 -> 2..4
	wantShift := []Shift{{2, 3, -2}, {5, 6, -4}, {7, 10, -5}}
	if !slices.Equal(plan.Shifts, wantShift) {
		t.Fatalf("shifts %v, want %v", plan.Shifts, wantShift)
	}
	for i, e := range tr.Entries() {
		if e.Pos != int32(i) {
			t.Fatalf("entry %d at position %d after rolling", i, e.Pos)
		}
	}
	if tr.NextPos() != 5 {
		t.Fatalf("next position %d", tr.NextPos())
	}
}

func TestEvictWithoutRollingKeepsPositions(t *testing.T) {
	tr := mustTracker(t, Config{Policy: Window, Budget: 3})
	tr.Append([]int32{1, 2, 3, 4, 5}, nil)
	plan := tr.Evict(-1)
	if len(plan.Shifts) != 0 || !slices.Equal(plan.Remove, []Range{{0, 2}}) {
		t.Fatalf("plan %+v", plan)
	}
	if tr.NextPos() != 5 || tr.Entries()[0].Pos != 2 || tr.IndexOfPos(3) != 1 || tr.IndexOfPos(0) != -1 {
		t.Fatalf("positions: next %d entries %+v", tr.NextPos(), tr.Entries())
	}
}

func TestSinkKeepsFirst(t *testing.T) {
	tr := mustTracker(t, Config{Policy: Sink, Budget: 6, SinkTokens: 2, Rolling: true})
	tr.Append([]int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, nil)
	tr.Evict(-1)
	var kept []int32
	for _, e := range tr.Entries() {
		kept = append(kept, e.Token)
	}
	if !slices.Equal(kept, []int32{0, 1, 6, 7, 8, 9}) {
		t.Fatalf("kept %v", kept)
	}
}

// Property test over random streams: after every step the cache holds at most
// B tokens, the last R are always kept, and the kept older tokens are exactly
// the top-H by score (ties to the more recent). Positions stay consistent.
func TestEvictProperties(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 200; trial++ {
		B := 2 + rng.Intn(30)
		H := rng.Intn(B)
		rolling := rng.Intn(2) == 0
		rule := []string{"cum", "mean", "last", "ema:0.8"}[rng.Intn(4)]
		r, _ := ParseScoreRule(rule)
		tr := mustTracker(t, Config{Policy: H2O, Budget: B, HeavyHitters: H, Rolling: rolling, Score: r})
		R := B - H
		for step := 0; step < 60; step++ {
			n := 1
			if step == 0 || rng.Intn(8) == 0 {
				n = 1 + rng.Intn(3*B) // a prefill chunk
			}
			toks := make([]int32, n)
			tr.Append(toks, nil)
			s := make([]float64, tr.Len())
			for i := range s {
				s[i] = float64(rng.Intn(5)) // ties on purpose
			}
			tr.AddStep(s)
			before := slices.Clone(tr.Entries())
			plan := tr.Evict(-1)
			after := tr.Entries()
			if len(after) > B {
				t.Fatalf("trial %d: %d tokens > budget %d", trial, len(after), B)
			}
			if len(before) <= B {
				if !plan.Empty() {
					t.Fatalf("evicted under budget")
				}
				continue
			}
			if len(after) != B || len(plan.Evicted) != len(before)-B {
				t.Fatalf("kept %d evicted %d of %d", len(after), len(plan.Evicted), len(before))
			}
			// the last R survive, in order
			for i := 1; i <= R; i++ {
				if after[len(after)-i].Index != before[len(before)-i].Index {
					t.Fatalf("trial %d: recent token %d lost", trial, i)
				}
			}
			// the others are the top-H by (score, recency)
			older := slices.Clone(before[:len(before)-R])
			sort.SliceStable(older, func(a, b int) bool {
				if older[a].Score != older[b].Score {
					return older[a].Score > older[b].Score
				}
				return older[a].Index > older[b].Index
			})
			want := map[int64]bool{}
			for _, e := range older[:H] {
				want[e.Index] = true
			}
			for _, e := range after[:len(after)-R] {
				if !want[e.Index] {
					t.Fatalf("trial %d: kept token %d is not a top-%d heavy hitter", trial, e.Index, H)
				}
			}
			checkPositions(t, tr, rolling)
		}
	}
}

func checkPositions(t *testing.T, tr *Tracker, rolling bool) {
	t.Helper()
	for i, e := range tr.Entries() {
		if rolling && e.Pos != int32(i) {
			t.Fatalf("rolling: entry %d at position %d", i, e.Pos)
		}
		if !rolling && int64(e.Pos) != e.Index {
			t.Fatalf("no rolling: entry %d at position %d, stream index %d", i, e.Pos, e.Index)
		}
		if tr.IndexOfPos(e.Pos) != i {
			t.Fatalf("IndexOfPos(%d) = %d, want %d", e.Pos, tr.IndexOfPos(e.Pos), i)
		}
	}
}

// IndexOfPosNear finds every entry from any hint: the entry's index before
// the last evictions (the walk down), a stale or wrong one (the search), or
// none; and misses positions no entry holds.
func TestIndexOfPosNear(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	tr := mustTracker(t, Config{Policy: H2O, Budget: 24, HeavyHitters: 12})
	before := map[int32]int{} // position -> index before this step's eviction
	for step := 0; step < 400; step++ {
		tr.Append([]int32{int32(step)}, nil)
		n := tr.Len()
		att := make([]float64, n)
		for i := range att {
			att[i] = rng.Float64()
		}
		if err := tr.AddStep(att); err != nil {
			t.Fatal(err)
		}
		clear(before)
		for i, e := range tr.Entries() {
			before[e.Pos] = i
		}
		limit := -1
		if step%50 == 49 {
			limit = 5 + rng.Intn(10) // several evictions at once (a walk longer than the bound)
		}
		tr.Evict(limit)
		for i, e := range tr.Entries() {
			for _, hint := range []int{before[e.Pos], -1, 0, n + 5, rng.Intn(n)} {
				if got := tr.IndexOfPosNear(e.Pos, hint); got != i {
					t.Fatalf("step %d: IndexOfPosNear(%d, %d) = %d, want %d", step, e.Pos, hint, got, i)
				}
			}
		}
		for p := range before {
			if tr.IndexOfPos(p) < 0 && tr.IndexOfPosNear(p, before[p]) != -1 {
				t.Fatalf("step %d: evicted position %d found", step, p)
			}
		}
	}
}

// Applying a plan's removals and shifts to a simulated cache of positions
// yields exactly the tracker's positions.
func TestPlanAppliesToCache(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	tr := mustTracker(t, Config{Policy: H2O, Budget: 16, HeavyHitters: 8, Rolling: true})
	cache := map[int32]int64{} // position -> stream index
	for step := 0; step < 300; step++ {
		pos := tr.Append([]int32{int32(step)}, nil)
		cache[pos[0]] = tr.Seen() - 1
		s := make([]float64, tr.Len())
		for i := range s {
			s[i] = rng.Float64()
		}
		tr.AddStep(s)
		plan := tr.Evict(-1)
		for _, r := range plan.Remove {
			for p := r.P0; p < r.P1; p++ {
				if _, ok := cache[p]; !ok {
					t.Fatalf("remove of empty position %d", p)
				}
				delete(cache, p)
			}
		}
		for _, sh := range plan.Shifts {
			moved := map[int32]int64{}
			for p, idx := range cache {
				if p >= sh.P0 && (sh.P1 < 0 || p < sh.P1) {
					moved[p+sh.Delta] = idx
					delete(cache, p)
				}
			}
			for p, idx := range moved {
				if _, clash := cache[p]; clash {
					t.Fatalf("shift collides at %d", p)
				}
				cache[p] = idx
			}
		}
		if len(cache) != tr.Len() {
			t.Fatalf("cache %d tokens, tracker %d", len(cache), tr.Len())
		}
		for _, e := range tr.Entries() {
			if cache[e.Pos] != e.Index {
				t.Fatalf("position %d holds %d, tracker says %d", e.Pos, cache[e.Pos], e.Index)
			}
		}
	}
}

func TestStepScoresAggregates(t *testing.T) {
	// 2 layers x 1 head, 4 cells; cell 2 belongs to no entry.
	att := Attention{NLayer: 2, NHead: 1, NCells: 4, NKV: 4, Data: []float32{
		1, 2, 100, 1, // layer 0: total over mapped = 4
		0, 6, 0, 2, // layer 1: total 8
	}}
	cells := []int{0, 1, -1, 2}
	sum := StepScores(att, cells, 3, AggSum, nil)
	if !slices.Equal(sum, []float64{1, 8, 3}) {
		t.Fatalf("sum %v", sum)
	}
	mean := StepScores(att, cells, 3, AggLayerMean, nil)
	want := []float64{(0.25 + 0) / 2, (0.5 + 0.75) / 2, (0.25 + 0.25) / 2}
	for i := range want {
		if math.Abs(mean[i]-want[i]) > 1e-12 {
			t.Fatalf("layer-mean %v, want %v", mean, want)
		}
	}
	mx := StepScores(att, cells, 3, AggMax, nil)
	if !slices.Equal(mx, []float64{0.25, 0.75, 0.25}) {
		t.Fatalf("max %v", mx)
	}
}
