package session

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/internal/testmodel"
	"github.com/h2o-kv/h2o/internal/testutil"
)

// Every rule, and the snapkv prompt cut, with a budget at least the sequence
// evicts nothing: its logits equal the full cache's exactly, step by step.
func TestRulesEqualFullUnderBudget(t *testing.T) {
	m := loadModel(t, testutil.Stories260K(t))
	prompt, err := m.Tokenize("Once upon a time, there was a little girl named Lily. She liked to play", true, false)
	if err != nil {
		t.Fatal(err)
	}
	// window > 0: the prompt's last window tokens are a decode of their own
	// (as the snapkv cut reads them), so that the decodes match in size
	run := func(p h2o.Config, prefill PrefillMode, window int) [][]float32 {
		s := newSession(t, m, Options{Policy: p, Prefill: prefill, NCtx: 256, Chunk: 8, FlashAttn: "off", TypeK: "f16"})
		for _, part := range [][]int32{prompt[:len(prompt)-window], prompt[len(prompt)-window:]} {
			if err := s.Feed(part); err != nil {
				t.Fatal(err)
			}
		}
		var out [][]float32
		for i := 0; i < 40; i++ {
			lg := slices.Clone(s.Logits())
			out = append(out, lg)
			if err := s.Step(int32(slices.Index(lg, slices.Max(lg)))); err != nil {
				t.Fatal(err)
			}
		}
		if n := s.Stats().Evictions; n != 0 {
			t.Fatalf("%s evicted %d tokens under budget", p, n)
		}
		return out
	}
	full := run(h2o.Config{Policy: h2o.Full}, "", 0)
	fullSplit := run(h2o.Config{Policy: h2o.Full}, "", 4)
	snap := h2o.PromptRule{Kind: "snapkv", Window: 4}
	for _, c := range []struct {
		p       h2o.Config
		prefill PrefillMode
	}{
		{h2o.Config{Policy: h2o.TOVA, Budget: 200}, PrefillChunked},
		{h2o.Config{Policy: h2o.Knorm, Budget: 200}, PrefillChunked},
		{h2o.Config{Policy: h2o.KeyDiff, Budget: 200, Rolling: true}, PrefillChunked},
		{h2o.Config{Policy: h2o.KeyDiff, Budget: 200, Prompt: snap}, ""},
		{h2o.Config{Policy: h2o.H2O, Budget: 200, HeavyHitters: -1, Prompt: snap}, ""},
		{h2o.Config{Policy: h2o.Window, Budget: 200, Prompt: snap}, PrefillFull},
	} {
		got, want := run(c.p, c.prefill, 0), full
		if c.p.Prompt.Kind != "" {
			want = fullSplit
		}
		for i := range want {
			if !slices.Equal(got[i], want[i]) {
				t.Fatalf("%s: logits of step %d differ from the full cache's", c.p, i)
			}
		}
	}
}

// Under a small budget the key rules evict and read every cached token's
// keys; keydiff with rolling re-reads the rotated keys; snapkv cuts the
// prompt to the budget at once.
func TestRulesEvict(t *testing.T) {
	m := loadModel(t, testutil.Stories260K(t))
	prompt, _ := m.Tokenize("Once upon a time, there was a little girl named Lily. She liked to play outside with her friends in the park", true, false)
	for _, p := range []h2o.Config{
		{Policy: h2o.Knorm, Budget: 16},
		{Policy: h2o.KeyDiff, Budget: 16, Rolling: true},
		{Policy: h2o.Knorm, Budget: 16, Prompt: h2o.PromptRule{Kind: "snapkv", Window: 4}},
	} {
		s := newSession(t, m, Options{Policy: p, Chunk: 8})
		if err := s.Feed(prompt); err != nil {
			t.Fatal(err)
		}
		if s.CacheLen() != 16 {
			t.Fatalf("%s: %d tokens after the prompt, want 16", p, s.CacheLen())
		}
		for i := 0; i < 30; i++ {
			if err := s.Step(1); err != nil {
				t.Fatal(err)
			}
		}
		if s.CacheLen() != 16 || s.Tracker().MissingKeys() != 0 {
			t.Fatalf("%s: %d tokens, %d without keys", p, s.CacheLen(), s.Tracker().MissingKeys())
		}
	}
	if _, err := New(m, Options{Policy: h2o.Config{Policy: h2o.H2O, Budget: 16, Prompt: h2o.PromptRule{Kind: "snapkv", Window: 4}}, Prefill: PrefillChunked}); err == nil {
		t.Fatal("snapkv with chunked prefill accepted")
	}
}

// The key rules' statistics, reduced where the cache lives (CPU, and CUDA on
// a GPU machine), equal the Go policy's own computation from the same
// cache's keys read back one row at a time (rotated on the host by each
// cell's shift when keys are rotated on read), and both choose the same
// victim: after evictions and rolling, keys in place and rotated on read.
func TestKeyStatsEqualHostKeys(t *testing.T) {
	path := testutil.Stories260K(t)
	backends := []int{0}
	if binding.HasGPU() {
		backends = append(backends, -1)
	}
	prompt := make([]int32, 60)
	for i := range prompt {
		prompt[i] = int32(3 + (i*37)%400)
	}
	for _, ngl := range backends {
		m, err := binding.LoadModel(path, binding.ModelParams{GPULayers: ngl})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		info := m.Info()
		hd := info.NEmbd / info.NHead
		row := info.NHeadKV * hd
		base, nRot := ropeOf(t, path, hd)
		for _, p := range []h2o.Policy{h2o.Knorm, h2o.KeyDiff} {
			for _, rot := range []KeyRotation{"", RotateInPlace, RotateOnRead} {
				cfg := h2o.Config{Policy: p, Budget: 24, Rolling: rot != ""}
				name := fmt.Sprintf("ngl %d %s rolling %q", ngl, p, rot)
				s := newSession(t, m, Options{Policy: cfg, Chunk: 8, KeyRotation: rot})
				if err := s.Feed(prompt); err != nil {
					t.Fatal(err)
				}
				for i := 0; i < 20; i++ {
					if err := s.Step(int32(5 + i)); err != nil {
						t.Fatal(err)
					}
				}
				// the cache now holds 24 tokens after 56 evictions; both
				// trackers below choose the next victim among them
				ctx := s.Context()
				ts := s.seq.state.(*tokenState)
				ts.readCells(ctx, ts.nCells)
				var cells []int32
				for j, e := range ts.cellEntry {
					if e >= 0 {
						cells = append(cells, int32(ts.first+j))
					}
				}
				if len(cells) != cfg.Budget {
					t.Fatalf("%s: %d cached tokens, want %d", name, len(cells), cfg.Budget)
				}
				host := h2o.NewTracker(s.Options().Resolved())
				dev := h2o.NewTracker(s.Options().Resolved())
				for range cells {
					host.Append([]int32{0}, nil)
					dev.Append([]int32{0}, nil)
				}
				stat := binding.KeyNorm
				if p == h2o.KeyDiff {
					stat = binding.KeyCosine
				}
				got := make([]float32, len(cells))
				if err := ctx.KeyStats(stat, cells, got); err != nil {
					t.Fatal(err)
				}
				keys := make([]float32, info.NLayer*row)
				for k, c := range cells {
					shift := 0
					if ctx.RotateOnRead() {
						if shift, err = ctx.CellShift(int(c)); err != nil {
							t.Fatal(err)
						}
					}
					for l := 0; l < info.NLayer; l++ {
						if _, err := ctx.KeyRow(l, int(c), keys[l*row:(l+1)*row]); err != nil {
							t.Fatal(err)
						}
						copy(keys[l*row:(l+1)*row], rotate(keys[l*row:(l+1)*row], hd, nRot, base, shift))
					}
					if err := host.SetKeys(k, h2o.Keys{NLayer: info.NLayer, NHead: info.NHeadKV, Dim: hd, Data: keys}); err != nil {
						t.Fatal(err)
					}
					if err := dev.SetKeyStat(k, float64(got[k])); err != nil {
						t.Fatal(err)
					}
				}
				hp, dp := host.Evict(len(cells)-1), dev.Evict(len(cells)-1)
				if len(hp.Evicted) != 1 || len(dp.Evicted) != 1 || hp.Evicted[0].Index != dp.Evicted[0].Index {
					t.Errorf("%s: the device's statistics evict %v, the host's keys %v", name, dp.Evicted, hp.Evicted)
				}
				for k, e := range host.Entries() {
					if d := dev.Entries()[k].Score; math.Abs(d-e.Score) > 1e-4*math.Max(1, math.Abs(e.Score)) {
						t.Fatalf("%s: token %d scored %g from the device's statistics, %g from the host's keys", name, e.Index, d, e.Score)
					}
				}
			}
		}
	}
}

// On a GPU the key rules read the keys from device memory: the statistics
// they rank by equal those of the same model on the CPU (f16 keys computed
// by other kernels: within 1e-2), token by token.
func TestKeyRulesGPU(t *testing.T) {
	path := testutil.Stories260K(t)
	gpu := testmodel.LoadGPU(t, path, "the key rules' device reads")
	cpu := loadModel(t, path)
	prompt, _ := cpu.Tokenize("Once upon a time, there was a little girl named Lily. She liked to play", true, false)
	for _, p := range []h2o.Policy{h2o.Knorm, h2o.KeyDiff} {
		// one token over the budget: keydiff scores every token at the eviction
		cfg := h2o.Config{Policy: p, Budget: len(prompt) - 1}
		scores := func(m *binding.Model) map[int64]float64 {
			s := newSession(t, m, Options{Policy: cfg, Prefill: PrefillFull, NCtx: 256, TypeK: "f16"})
			if err := s.Feed(prompt); err != nil {
				t.Fatal(err)
			}
			out := map[int64]float64{}
			for _, e := range s.Tracker().Entries() {
				out[e.Index] = e.Score
			}
			return out
		}
		want, got := scores(cpu), scores(gpu)
		if len(want) != cfg.Budget || len(got) != cfg.Budget {
			t.Fatalf("%s: %d tokens kept on the CPU, %d on the GPU, want %d", p, len(want), len(got), cfg.Budget)
		}
		for i, w := range want {
			if g, ok := got[i]; ok && math.Abs(g-w) > 1e-2*math.Abs(w) {
				t.Fatalf("%s: token %d scored %g on the GPU, %g on the CPU", p, i, g, w)
			}
		}
	}
}
