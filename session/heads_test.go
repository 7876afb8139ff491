package session

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/internal/testmodel"
	"github.com/h2o-kv/h2o/internal/testutil"
)

// greedyLogits feeds prompt and takes n greedy steps, returning a copy of
// the logits before every step.
func greedyLogits(t *testing.T, s *Session, prompt []int32, n int) [][]float32 {
	t.Helper()
	if err := s.Feed(prompt); err != nil {
		t.Fatal(err)
	}
	var out [][]float32
	for i := 0; i < n; i++ {
		l := s.Logits()
		out = append(out, slices.Clone(l))
		if err := s.Step(int32(argmax(l))); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	return out
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func perHead(b, heavy int, rolling bool) h2o.Config {
	return h2o.Config{Policy: h2o.H2O, Budget: b, HeavyHitters: heavy, Rolling: rolling, Granularity: h2o.PerHead}
}

// With a budget at least the sequence length nothing is evicted, and
// per-head eviction gives bit-identical logits to the full cache (same
// context size, chunk and cache types), on both fixtures.
func TestPerHeadEqualsFullUnderBudget(t *testing.T) {
	for _, tc := range []struct {
		name  string
		path  func(testing.TB) string
		steps int
	}{{"stories260K", testutil.Stories260K, 150}, {"debtext", testutil.EvalModel, 40}} {
		t.Run(tc.name, func(t *testing.T) {
			m := loadModel(t, tc.path(t))
			prompt, _ := m.Tokenize("Once upon a time, there was a little girl named Lily. She", true, false)
			base := Options{Chunk: 8, NCtx: 512, FlashAttn: "off", TypeK: "f32"}
			full := base
			full.Policy = h2o.Config{Policy: h2o.Full}
			want := greedyLogits(t, newSession(t, m, full), prompt, tc.steps)
			for _, rolling := range []bool{false, true} {
				for _, prefill := range []PrefillMode{PrefillChunked, PrefillFull} {
					o := base
					o.Policy, o.Prefill = perHead(256, -1, rolling), prefill
					s := newSession(t, m, o)
					got := greedyLogits(t, s, prompt, tc.steps)
					for i := range want {
						if !slices.Equal(got[i], want[i]) {
							t.Fatalf("rolling %v, %s prefill: logits differ from the full cache at step %d", rolling, prefill, i)
						}
					}
					if s.Stats().Evictions != 0 {
						t.Fatalf("evicted %d under budget", s.Stats().Evictions)
					}
				}
			}
			// With flash attention: the full cache collecting the same
			// scores takes the same attention paths (prompt chunks plain,
			// decode steps flash attention with logits).
			fa := base
			fa.FlashAttn, fa.Scores = "on", binding.ScoresKVHead
			full = fa
			full.Policy = h2o.Config{Policy: h2o.Full}
			want = greedyLogits(t, newSession(t, m, full), prompt, tc.steps)
			for _, rolling := range []bool{false, true} {
				o := fa
				o.Policy = perHead(256, -1, rolling)
				got := greedyLogits(t, newSession(t, m, o), prompt, tc.steps)
				for i := range want {
					if !slices.Equal(got[i], want[i]) {
						t.Fatalf("flash attention, rolling %v: logits differ from the full cache at step %d", rolling, i)
					}
				}
			}
		})
	}
}

// occupied counts the cells holding a token.
func occupied(s *Session) int {
	cells := make([]binding.Cell, s.Context().NCtx())
	s.Context().Cells(cells)
	n := 0
	for _, c := range cells {
		if c.Pos >= 0 {
			n++
		}
	}
	return n
}

// Per-head eviction holds the budget: the context is sized budget + chunk,
// after every prefill chunk and every step at most B cells are occupied, and
// with rolling positions stay below B. The heads keep different tokens.
func TestPerHeadMemoryBounded(t *testing.T) {
	m := loadModel(t, testutil.Stories260K(t))
	const b, chunk = 32, 8
	for _, rolling := range []bool{false, true} {
		s := newSession(t, m, Options{Policy: perHead(b, 16, rolling), Chunk: chunk})
		if s.Context().NCtx() != 256 {
			t.Fatalf("context %d cells, want 256 (%d + %d rounded up)", s.Context().NCtx(), b, chunk)
		}
		long := strings.Repeat("Once upon a time, there was a little dog. He liked to run in the park. ", 6)
		toks, _ := m.Tokenize(long, true, false)
		for i := 0; i < len(toks); i += chunk {
			if err := s.Feed(toks[i:min(i+chunk, len(toks))]); err != nil {
				t.Fatal(err)
			}
			if n := occupied(s); n > b || n != s.CacheLen() {
				t.Fatalf("after prefill chunk %d: %d cells occupied, cache %d, budget %d", i/chunk, n, s.CacheLen(), b)
			}
		}
		sampler := NewSampler(Sampling{Temperature: 0.8, Seed: 5})
		for i := 0; i < 300; i++ {
			tok, _, _ := sampler.Sample(s.Logits())
			if err := s.Step(tok); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if n := occupied(s); n > b {
				t.Fatalf("step %d: %d cells occupied, budget %d", i, n, b)
			}
			if rolling && s.Context().PosMax(0) >= b {
				t.Fatalf("step %d: position %d with rolling, budget %d", i, s.Context().PosMax(0), b)
			}
		}
		st := s.Stats()
		if st.Evictions != st.Seen-b || s.CacheLen() != b {
			t.Fatalf("stats %+v", st)
		}
		ht := s.HeadTracker()
		info := m.Info()
		differ := 0
		for l := 0; l < info.NLayer; l++ {
			for h := 0; h < info.NHeadKV; h++ {
				if !slices.EqualFunc(ht.Head(l, h).Entries(), ht.Head(0, 0).Entries(), func(a, b h2o.Entry) bool { return a.Index == b.Index }) {
					differ++
				}
			}
		}
		if differ == 0 {
			t.Fatal("every head kept the same tokens")
		}
		t.Logf("rolling %v: %d of %d heads keep a different set than layer 0 head 0", rolling, differ, info.NLayer*info.NHeadKV)
	}
}

// After many per-head evictions every head's layer-0 key and value in every
// cell (which depend only on the token and, for the key, its position) match,
// within rounding, those computed fresh for the token that head keeps there, at the position
// that head gives it: moved rows landed in the right head and cell, and
// rolling re-rotated each head's keys by its own deltas.
func TestPerHeadCacheContents(t *testing.T) {
	checkPerHeadContents(t, loadModel(t, testutil.Stories260K(t)))
}

// The same on the GPU (all layers offloaded): the moves run as a CUDA graph.
// Also, under budget per-head eviction generates what the full cache does.
// Skips on machines without a GPU.
func TestPerHeadGPU(t *testing.T) {
	m := testmodel.LoadGPU(t, testutil.Stories260K(t), "the CUDA per-head test")
	checkPerHeadContents(t, m)
	prompt, _ := m.Tokenize("Once upon a time", true, false)
	base := Options{Chunk: 8, NCtx: 512, FlashAttn: "off", TypeK: "f32"}
	full := base
	full.Policy = h2o.Config{Policy: h2o.Full}
	want := greedyLogits(t, newSession(t, m, full), prompt, 100)
	o := base
	o.Policy = perHead(256, -1, true)
	got := greedyLogits(t, newSession(t, m, o), prompt, 100)
	for i := range want {
		if argmax(got[i]) != argmax(want[i]) {
			t.Fatalf("step %d: per-head picks token %d, full %d", i, argmax(got[i]), argmax(want[i]))
		}
	}
}

func checkPerHeadContents(t *testing.T, m *binding.Model) {
	t.Helper()
	for _, tc := range []struct {
		rolling bool
		prefill PrefillMode
		dense   bool   // rolling re-rotations as one dense array (the GPU default)
		fa      string // flash attention: V not transposed, decode scores from its logits
	}{
		{false, PrefillChunked, false, ""}, {true, PrefillChunked, false, ""}, {true, PrefillFull, false, ""},
		{true, PrefillChunked, true, ""}, {true, PrefillFull, true, ""},
		{false, PrefillChunked, false, "on"}, {true, PrefillChunked, true, "on"}, {true, PrefillFull, false, "on"},
	} {
		// full prefill evicts the prompt down to the budget in one go (many moves per head)
		s := newSession(t, m, Options{Policy: perHead(24, 12, tc.rolling), Chunk: 8, Prefill: tc.prefill, FlashAttn: tc.fa})
		if fa := s.Context().FlashAttn(); fa != (tc.fa == "on") {
			t.Fatalf("flash attention %v, asked %q", fa, tc.fa)
		}
		if tc.dense {
			s.HeadTracker().DenseShift(s.nCtx)
		} else {
			s.HeadTracker().DenseShift(0)
		}
		toks, _ := m.Tokenize(strings.Repeat("Once upon a time, there was a little girl named Lily. She loved to play outside. ", 3), true, false)
		if err := s.Feed(toks); err != nil {
			t.Fatal(err)
		}
		if s.CacheLen() != 24 || occupied(s) != 24 {
			t.Fatalf("%s prefill of %d tokens: cache %d, %d cells occupied", tc.prefill, len(toks), s.CacheLen(), occupied(s))
		}
		name := fmt.Sprintf("rolling %v, %s prefill, dense shifts %v, flash attention %q", tc.rolling, tc.prefill, tc.dense, tc.fa)
		compareHeadRows(t, m, s, name+", after the prompt")
		sampler := NewSampler(Sampling{Temperature: 1, Seed: 3})
		for i := 0; i < 400; i++ {
			tok, _, _ := sampler.Sample(s.Logits())
			if err := s.Step(tok); err != nil {
				t.Fatal(err)
			}
		}
		compareHeadRows(t, m, s, name+", after 400 steps")
	}
}

// compareHeadRows checks every head's layer-0 key and value rows in s
// against a fresh decode of the token that head keeps there.
func compareHeadRows(t *testing.T, m *binding.Model, s *Session, name string) {
	t.Helper()
	info := m.Info()
	hd := info.NEmbd / info.NHead
	rolling := s.Options().Policy.Rolling
	fresh := newSession(t, m, Options{Policy: h2o.Config{Policy: h2o.Full}, NCtx: 256, TypeK: s.Options().TypeK, Scores: binding.ScoresKVHead})
	b := binding.NewBatch(1)
	defer b.Close()
	kGot, kWant := make([]float32, 256), make([]float32, 256)
	vGot, vWant := make([]float32, 256), make([]float32, 256)
	worst, checked := 0.0, 0
	// f32 keys: float rounding on the CPU. On a GPU a batch's key projection
	// and a single token's take different kernels (they differ even at
	// position 0, where no rotation happens); a wrong row is off by O(1).
	keyTol := 1e-4
	if m.GPULayers() != 0 && binding.HasGPU() {
		keyTol = 2e-3
	}
	if s.Options().TypeK == "f16" {
		keyTol = 1e-2 // keys rotated on read (the decode graph's) and stored in f16
	}
	ht := s.HeadTracker()
	for h := 0; h < info.NHeadKV; h++ {
		for _, e := range ht.Head(0, h).Entries() {
			if !slices.Contains(ht.Cells(), e.Slot) {
				t.Fatalf("%s: head %d keeps token %d in cell %d, not an occupied cell", name, h, e.Index, e.Slot)
			}
			if _, err := s.Context().KeyRow(0, int(e.Slot), kGot); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Context().ValueRow(0, int(e.Slot), vGot); err != nil {
				t.Fatal(err)
			}
			fresh.Context().ClearMemory()
			b.Clear()
			b.Add(e.Token, e.Pos, 0, false)
			if err := fresh.Context().Decode(b); err != nil {
				t.Fatal(err)
			}
			fresh.Context().KeyRow(0, 0, kWant)
			fresh.Context().ValueRow(0, 0, vWant)
			lo, hi := h*hd, (h+1)*hd
			// A batch and a single token may round differently (one f16
			// ulp); a row of another token or head is off by O(1).
			if err := relErr(vGot[lo:hi], vWant[lo:hi]); err > 1e-2 {
				t.Fatalf("%s: head %d cell %d: value %v, want token %d's %v", name, h, e.Slot, vGot[lo:hi], e.Token, vWant[lo:hi])
			}
			err := relErr(kGot[lo:hi], kWant[lo:hi])
			if (!rolling && err > 1e-2) || (rolling && err > keyTol) { // f16 keys without rolling, f32 with
				t.Fatalf("%s: head %d cell %d: key relative error %g (token %d at position %d)", name, h, e.Slot, err, e.Token, e.Pos)
			}
			worst = math.Max(worst, err)
			checked++
		}
	}
	t.Logf("%s: %d (head, cell) rows checked after %d evictions, worst key error %.3g", name, checked, s.Stats().Evictions, worst)
}

func TestPerHeadErrors(t *testing.T) {
	m := loadModel(t, testutil.Stories260K(t))
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Policy: perHead(32, 16, true), Scores: binding.ScoresLayer}, "per-KV-head scores"},
		{Options{Policy: h2o.Config{Policy: h2o.Window, Budget: 32, Granularity: h2o.PerHead}}, "granularity head needs the h2o policy"},
		{Options{Policy: h2o.Config{Policy: h2o.Full, Granularity: h2o.PerHead}}, "granularity head needs the h2o policy"},
	} {
		s, err := New(m, tc.o)
		if err == nil {
			s.Close()
			t.Fatalf("%+v accepted", tc.o.Policy)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("error %q, want it to mention %q", err, tc.want)
		}
	}
}
