package session

import (
	"math"
	"slices"
	"testing"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
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

// On a GPU the key rules read the keys from device memory: the statistics
// they rank by equal those of the same model on the CPU (f16 keys computed
// by other kernels: within 1e-2), token by token.
func TestKeyRulesGPU(t *testing.T) {
	if !binding.HasGPU() {
		t.Skip("no GPU device: the key rules' device reads are tested on a GPU machine")
	}
	path := testutil.Stories260K(t)
	gpu, err := binding.LoadModel(path, binding.ModelParams{GPULayers: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer gpu.Close()
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
