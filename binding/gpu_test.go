package binding

import (
	"math"
	"testing"

	"github.com/h2o-kv/h2o/internal/testutil"
)

// The scores computed on the GPU (all layers offloaded) equal the CPU's
// within 1e-3 relative with f32 caches; f16 keys round differently in the two
// backends' kernels, so they get 2e-3. Skips on machines without a GPU.
func TestScoresGPUMatchCPU(t *testing.T) {
	if !HasGPU() {
		t.Skip("no GPU device: the CUDA comparison runs on a GPU machine")
	}
	for _, tc := range []struct {
		typ string
		tol float64
	}{{"f32", 1e-3}, {"f16", 2e-3}} {
		t.Run(tc.typ, func(t *testing.T) { compareGPUScores(t, tc.typ, tc.tol) })
	}
}

func compareGPUScores(t *testing.T, typ string, tol float64) {
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
		c, err := NewContext(m, ContextParams{NCtx: 256, Scores: ScoresKVHead, TypeK: typ, TypeV: typ})
		if err != nil {
			t.Fatal(err)
		}
		decodeAll(t, c, toks, 0)
		decodeStep(t, c, 42, len(toks))
		s, _ := c.Scores()
		scores[ngl] = append([]float32(nil), s.Data...)
		c.Close()
		m.Close()
	}
	// Relative L1 error of each (layer, head) row: the rows are attention mass,
	// and single tiny entries differ more in relative terms (f16 keys, other kernels).
	cpu, gpu := scores[0], scores[-1]
	worst, worstAbs := 0.0, 0.0
	for r := 0; r < len(cpu)/256; r++ {
		num, den := 0.0, 0.0
		for j := r * 256; j < (r+1)*256; j++ {
			d := math.Abs(float64(cpu[j] - gpu[j]))
			num += d
			den += math.Abs(float64(cpu[j]))
			worstAbs = math.Max(worstAbs, d)
		}
		if den > 0 {
			worst = math.Max(worst, num/den)
		}
	}
	t.Logf("devices: %+v", Devices())
	t.Logf("%s caches: CPU vs GPU scores: worst row relative L1 difference %.3g, largest absolute difference %.3g, over %d values", typ, worst, worstAbs, len(cpu))
	if worst > tol {
		t.Fatalf("%s caches: GPU scores differ from CPU by %g relative (tolerance %g)", typ, worst, tol)
	}
}

// On the GPU, decode steps with flash attention take the scores from the
// CUDA vector kernel's logits. debtext has 64-wide heads (stories260K's
// 8-wide ones have no CUDA kernel). The kernel multiplies in f16 with the
// query pre-scaled in f16, so even the first layer differs from the plain
// path by f16 rounding; a wrong cell or head would be off by far more (a
// 10% error in the logits moves the first layer's scores by 9e-2).
func TestScoresFlashAttnGPU(t *testing.T) {
	if !HasGPU() {
		t.Skip("no GPU device: the CUDA kernel runs on a GPU machine")
	}
	m, err := LoadModel(testutil.EvalModel(t), ModelParams{GPULayers: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	compareFlashScores(t, m, flashTol{prompt: 1e-4, layer0: 1e-2, scores: 5e-2, logits: 3e-2})
}
