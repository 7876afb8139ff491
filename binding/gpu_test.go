package binding

import (
	"math"
	"testing"

	"github.com/h2o-kv/h2o/internal/testutil"
)

// The scores computed on the GPU (all layers offloaded) equal the CPU's
// within 1e-3 relative. Skips on machines without a GPU.
func TestScoresGPUMatchCPU(t *testing.T) {
	if !HasGPU() {
		t.Skip("no GPU device: the CUDA comparison runs on a GPU machine")
	}
	path := testutil.Stories260K(t)
	toks := []Token{}
	scores := map[int][]float32{}
	for _, ngl := range []int{0, -1} {
		m, err := LoadModel(path, ModelParams{GPULayers: ngl})
		if err != nil {
			t.Fatal(err)
		}
		if len(toks) == 0 {
			toks, _ = m.Tokenize(storyPrompt, true, false)
		}
		c, err := NewContext(m, ContextParams{NCtx: 256, Scores: ScoresKVHead})
		if err != nil {
			t.Fatal(err)
		}
		decodeAll(t, c, toks, 0)
		b := NewBatch(1)
		b.Add(42, int32(len(toks)), 0, true)
		if err := c.Decode(b); err != nil {
			t.Fatal(err)
		}
		b.Close()
		s, _ := c.Scores()
		scores[ngl] = append([]float32(nil), s.Data...)
		c.Close()
		m.Close()
	}
	cpu, gpu := scores[0], scores[-1]
	worst := 0.0
	for i := range cpu {
		d := math.Abs(float64(cpu[i] - gpu[i]))
		worst = math.Max(worst, d/math.Max(math.Abs(float64(cpu[i])), 1e-3))
	}
	t.Logf("devices: %+v", Devices())
	t.Logf("worst relative difference CPU vs GPU scores: %.3g over %d values", worst, len(cpu))
	if worst > 1e-3 {
		t.Fatalf("GPU scores differ from CPU by %g relative", worst)
	}
}
