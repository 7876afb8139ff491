package h2o

import (
	"math"
	"math/rand"
	"slices"
	"testing"
)

// keysOf builds one token's keys from per-(layer, head) rows.
func keysOf(nLayer, nHead int, rows ...[]float32) Keys {
	k := Keys{NLayer: nLayer, NHead: nHead, Dim: len(rows[0])}
	for _, r := range rows {
		k.Data = append(k.Data, r...)
	}
	return k
}

func indices(t *Tracker) []int64 {
	var out []int64
	for _, e := range t.Entries() {
		out = append(out, e.Index)
	}
	return out
}

func appendKeyed(t *testing.T, tr *Tracker, keys ...Keys) {
	t.Helper()
	for _, k := range keys {
		tr.Append([]int32{1}, nil)
		if err := tr.SetKeys(tr.Len()-1, k); err != nil {
			t.Fatal(err)
		}
	}
}

// knorm evicts the largest norm outside the recent window, summed over
// layers and heads: token 1 is small in one head but largest in sum.
func TestKnormEvictsLargestNorm(t *testing.T) {
	tr := mustTracker(t, Config{Policy: Knorm, Budget: 3, Recent: 1})
	appendKeyed(t, tr,
		keysOf(1, 2, []float32{1, 0}, []float32{1, 0}),   // 2
		keysOf(1, 2, []float32{0, 0.5}, []float32{3, 4}), // 5.5
		keysOf(1, 2, []float32{2, 0}, []float32{0, 2}),   // 4
		keysOf(1, 2, []float32{9, 9}, []float32{9, 9}),   // recent: kept whatever its norm
	)
	plan := tr.Evict(-1)
	if got := indices(tr); !slices.Equal(got, []int64{0, 2, 3}) || len(plan.Evicted) != 1 {
		t.Fatalf("kept %v, want [0 2 3]", got)
	}
	if tr.MissingKeys() != 0 {
		t.Fatal("an entry lost its keys")
	}
}

// keydiff evicts the key closest in direction to the mean normalised key:
// token 1 lies between the two x-like keys and the y key's pull.
func TestKeyDiffEvictsMostSimilar(t *testing.T) {
	tr := mustTracker(t, Config{Policy: KeyDiff, Budget: 3, Recent: 1})
	appendKeyed(t, tr,
		keysOf(1, 1, []float32{1, 0}),
		keysOf(1, 1, []float32{10, 1}), // long, but only its direction counts
		keysOf(1, 1, []float32{0, 1}),
		keysOf(1, 1, []float32{1, 0}),
	)
	tr.Evict(-1)
	if got := indices(tr); !slices.Equal(got, []int64{0, 2, 3}) {
		t.Fatalf("kept %v, want [0 2 3]", got)
	}
}

// keydiff's scores over several layers and heads equal a direct computation
// of -Σ cos(k, mean of k/|k|) over the cache, through many evictions.
func TestKeyDiffScoresMatchReference(t *testing.T) {
	for _, threshold := range []int{keyParallelMin, 1} {
		// 1: on several goroutines, as a large cache is
		saved := keyParallelMin
		keyParallelMin = threshold
		checkKeyDiffReference(t)
		keyParallelMin = saved
	}
}

func checkKeyDiffReference(t *testing.T) {
	t.Helper()
	const nLayer, nHead, dim, budget = 3, 2, 4, 12
	rng := rand.New(rand.NewSource(3))
	tr := mustTracker(t, Config{Policy: KeyDiff, Budget: budget, Recent: 3})
	keys := map[int64][]float32{}
	for step := 0; step < 60; step++ {
		k := Keys{NLayer: nLayer, NHead: nHead, Dim: dim, Data: make([]float32, nLayer*nHead*dim)}
		for i := range k.Data {
			k.Data[i] = float32(rng.NormFloat64()) + 0.5
		}
		appendKeyed(t, tr, k)
		keys[tr.Entries()[tr.Len()-1].Index] = k.Data
		if tr.Len() <= budget {
			continue
		}
		// the reference: recompute every score from the raw keys
		es := tr.Entries()
		want := make([]float64, len(es))
		for h := 0; h < nLayer*nHead; h++ {
			mean := make([]float64, dim)
			for _, e := range es {
				row := keys[e.Index][h*dim : (h+1)*dim]
				n := l2(row)
				for j, v := range row {
					mean[j] += float64(v) / n / float64(len(es))
				}
			}
			for i, e := range es {
				row := keys[e.Index][h*dim : (h+1)*dim]
				dot, mn := 0.0, 0.0
				for j, v := range row {
					dot += float64(v) * mean[j]
					mn += mean[j] * mean[j]
				}
				want[i] -= dot / (l2(row) * math.Sqrt(mn))
			}
		}
		worst := 0 // the candidate of largest cosine (the recent 3 are protected)
		for i := range len(es) - 3 {
			if want[i] < want[worst] {
				worst = i
			}
		}
		gone := es[worst].Index
		wantOf := map[int64]float64{}
		for i, e := range es {
			wantOf[e.Index] = want[i]
		}
		tr.Evict(-1)
		for _, e := range tr.Entries() {
			if e.Index == gone {
				t.Fatalf("step %d: kept token %d, the reference's most similar key", step, gone)
			}
			if math.Abs(e.Score-wantOf[e.Index]) > 1e-6 { // unit keys are stored as float32
				t.Fatalf("step %d: token %d scored %g, the reference %g", step, e.Index, e.Score, wantOf[e.Index])
			}
		}
	}
}

// tova is h2o with the last score rule and the layer-mean aggregation, and
// a recent window of 1 unless a split is given.
func TestTOVAIsH2OAlias(t *testing.T) {
	r := resolve(t, Config{Policy: TOVA, Budget: 8})
	want := Resolved{Policy: H2O, Alias: TOVA, Budget: 8, HeavyHitters: 7, Recent: 1, Score: ScoreRule{Kind: "last"}, Aggregate: AggLayerMean, Granularity: PerToken}
	if r != want {
		t.Fatalf("tova resolves to %+v, want %+v", r, want)
	}
	if again := resolve(t, r.Request()); again != r {
		t.Fatalf("tova's request resolves to %+v, want %+v", again, r)
	}
	if r.Name() != TOVA || !r.NeedsScores() || r.NeedsKeys() {
		t.Fatalf("tova: name %s, scores %v, keys %v", r.Name(), r.NeedsScores(), r.NeedsKeys())
	}
	if r := resolve(t, Config{Policy: TOVA, Budget: 8, RecentShare: 0.5}); r.HeavyHitters != 4 || r.Recent != 4 {
		t.Fatalf("tova with a recent share: %+v", r)
	}
	for _, bad := range []Config{
		{Policy: TOVA, Budget: 8, Score: ScoreRule{Kind: "cum"}},
		{Policy: TOVA, Budget: 8, Aggregate: AggSum},
		{Policy: TOVA, Budget: 8, Granularity: PerHead},
	} {
		if _, err := bad.Resolve(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	// the current step only: a token heavy before but not now goes first
	tr := mustTracker(t, Config{Policy: TOVA, Budget: 2})
	tr.Append([]int32{1, 2}, nil)
	tr.AddStep([]float64{0.9, 0.1})
	tr.Append([]int32{3}, nil)
	tr.AddStep([]float64{0.1, 0.5, 0.4})
	tr.Evict(-1)
	if got := indices(tr); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("kept %v, want [1 2]", got)
	}
}

func TestKeyRulesResolve(t *testing.T) {
	for _, p := range []Policy{Knorm, KeyDiff} {
		r := resolve(t, Config{Policy: p, Budget: 64})
		if r.HeavyHitters != 32 || r.Recent != 32 || r.NeedsScores() || !r.NeedsKeys() {
			t.Fatalf("%s: %+v", p, r)
		}
		if r := resolve(t, Config{Policy: p, Budget: 64, Recent: 1}); r.HeavyHitters != 63 {
			t.Fatalf("%s R=1: %+v", p, r)
		}
		if _, err := (Config{Policy: p, Budget: 64, Granularity: PerHead}).Resolve(); err == nil {
			t.Fatalf("%s per head accepted", p)
		}
	}
}

// SnapKV pools votes over 5 neighbours (zero padding) and Cut keeps the
// sinks, the window and the best-pooled others, leaving the scores alone.
func TestSnapKVCut(t *testing.T) {
	vote := []float64{0, 0, 0, 10, 0, 0, 0, 0, 1, 1}
	got := SnapKVRanks(vote, nil)
	want := []float64{0, 2, 2, 2, 2, 2, 0.2, 0.4, 0.4, 0.4}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("pooled %v, want %v", got, want)
		}
	}
	tr := mustTracker(t, Config{Policy: Window, Budget: 5, SinkTokens: 1})
	tr.Append(make([]int32, 10), nil)
	for i := range tr.entries {
		tr.entries[i].Score = float64(i)
	}
	// ranks: 1..5 tie at 2; ties go to the more recent
	if _, err := tr.Cut(5, 2, got); err != nil {
		t.Fatal(err)
	}
	if ix := indices(tr); !slices.Equal(ix, []int64{0, 4, 5, 8, 9}) {
		t.Fatalf("kept %v, want [0 4 5 8 9]", ix)
	}
	for _, e := range tr.Entries() {
		if e.Score != float64(e.Index) {
			t.Fatalf("cut changed token %d's score to %g", e.Index, e.Score)
		}
	}
	if _, err := tr.Cut(2, 1, []float64{1}); err == nil {
		t.Fatal("ranks of the wrong length accepted")
	}
	for _, bad := range []string{"snapkv", "snapkv:0", "snap:3"} {
		if _, err := ParsePromptRule(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := (Config{Policy: H2O, Budget: 8, Prompt: PromptRule{Kind: "snapkv", Window: 8}}).Resolve(); err == nil {
		t.Fatal("a window filling the budget accepted")
	}
	if _, err := (Config{Policy: Full, Prompt: PromptRule{Kind: "snapkv", Window: 8}}).Resolve(); err == nil {
		t.Fatal("a prompt rule on the full cache accepted")
	}
}

// With a budget at least the sequence, no rule evicts anything.
func TestRulesUnderBudgetKeepAll(t *testing.T) {
	for _, p := range []Policy{H2O, Window, Sink, TOVA, Knorm, KeyDiff} {
		tr := mustTracker(t, Config{Policy: p, Budget: 16})
		for i := 0; i < 16; i++ {
			tr.Append([]int32{int32(i)}, nil)
			if tr.Config().NeedsKeys() {
				if err := tr.SetKeys(i, keysOf(1, 1, []float32{float32(i), 1})); err != nil {
					t.Fatal(err)
				}
			}
			if tr.Config().NeedsScores() {
				tr.AddStep(make([]float64, tr.Len()))
			}
			if plan := tr.Evict(-1); !plan.Empty() {
				t.Fatalf("%s evicted %d tokens under budget", p, len(plan.Evicted))
			}
		}
		if plan, _ := tr.Cut(16, 4, make([]float64, 16)); !plan.Empty() {
			t.Fatalf("%s: the prompt cut evicted under budget", p)
		}
	}
}

// A sweep repeats every evicting request per prompt rule; tova drops the
// sweep's h2o score rule for its own.
func TestSweepRules(t *testing.T) {
	snap := PromptRule{Kind: "snapkv", Window: 8}
	reqs, err := Sweep{
		Base:     Config{Score: ScoreRule{Kind: "cum"}, Aggregate: AggSum},
		Policies: []Policy{Full, TOVA, Knorm}, Budgets: []int{32, 64}, Prompts: []PromptRule{{}, snap},
	}.Expand()
	if err != nil || len(reqs) != 9 {
		t.Fatalf("%d requests, want 9: %v", len(reqs), err)
	}
	for _, c := range reqs {
		r := resolve(t, c)
		if c.Policy == TOVA && (r.Score.Kind != "last" || r.Aggregate != AggLayerMean) {
			t.Fatalf("tova in a sweep: %+v", r)
		}
	}
	if reqs[0].Prompt != (PromptRule{}) || reqs[1].Prompt != (PromptRule{}) || reqs[2].Prompt != snap {
		t.Fatalf("prompt rules out of order: %v %v %v", reqs[0].Prompt, reqs[1].Prompt, reqs[2].Prompt)
	}
}
