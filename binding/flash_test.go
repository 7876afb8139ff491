package binding

import (
	"math"
	"strings"
	"testing"

	"github.com/h2o-kv/h2o/internal/testutil"
)

// With flash attention on, a decode step (one token per stream) takes its
// scores from the kernel's logits (patch 0007) and prompt chunks take the
// plain path. Both must give the scores of a context with flash attention
// off: per stream, for every KV head, on both test models (stories260K has
// 8-wide heads, debtext 64-wide ones and GQA). The first layer's scores see
// the same inputs and must agree to float rounding; later layers see hidden
// states that differ by flash attention's f16 accumulation of V, as do the
// logits (debtext measured 1.7e-2 in its scores and 9.6e-3 in its logits;
// its logits differ by 1.2e-2 between flash attention on and off with no
// scores at all).
func TestScoresFlashAttn(t *testing.T) {
	for _, name := range []string{"stories260K", "debtext"} {
		t.Run(name, func(t *testing.T) {
			path := testutil.Stories260K(t)
			if name == "debtext" {
				path = testutil.EvalModel(t)
			}
			m, err := LoadModel(path, ModelParams{GPULayers: 0})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			compareFlashScores(t, m, cpuFlashTol)
		})
	}
}

// flashTol bounds the worst relative L1 difference per row between flash
// attention off and on.
type flashTol struct{ prompt, layer0, scores, logits float64 }

var cpuFlashTol = flashTol{prompt: 1e-6, layer0: 1e-5, scores: 5e-2, logits: 3e-2}

// compareFlashScores runs the same prompts and decode step in a context with
// flash attention off and one with it on, and compares scores and logits:
// once with streams of 256 cells, once of 384 (a multiple of the vector
// kernel's 128 but not of 256) that the step attends in full; in every
// score mode (each sums the heads differently, and the total adds the layers).
func compareFlashScores(t *testing.T, m *Model, tol flashTol) {
	t.Helper()
	for _, mode := range []ScoresMode{ScoresKVHead, ScoresQueryHead, ScoresLayer, ScoresTotal} {
		for _, tc := range []struct {
			cells int
			lens  []int
		}{{256, []int{20, 12, 16}}, {384, []int{300, 270, 290, 280}}} {
			compareFlashStreams(t, m, tol, mode, tc.cells, tc.lens)
		}
	}
}

func compareFlashStreams(t *testing.T, m *Model, tol flashTol, mode ScoresMode, cells int, lens []int) {
	t.Helper()
	toks, err := m.Tokenize(strings.Repeat(storyPrompt+" ", 12), true, false)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		prompt, step []float32
		logits       [][]float32
		layer0       int // values of the first layer's rows
	}
	run := func(fa string) result {
		c := newCtx(t, m, ContextParams{NCtx: len(lens) * cells, NSeqMax: len(lens), NBatch: 2048, NUbatch: 512, FlashAttn: fa, Scores: mode})
		if lay := c.Layout(); lay.StreamSize != cells {
			t.Fatalf("streams of %d cells, want %d", lay.StreamSize, cells)
		}
		b := NewBatch(2048)
		defer b.Close()
		for s, n := range lens {
			for i, tk := range toks[:n] {
				b.Add(tk, int32(i), int32(s), false)
			}
		}
		if err := c.Decode(b); err != nil {
			t.Fatal(err)
		}
		var r result
		sc, _ := c.Scores()
		r.prompt = append(r.prompt, sc.Data...)
		b.Clear()
		for s, n := range lens {
			b.Add(toks[n], int32(n), int32(s), true)
		}
		if err := c.Decode(b); err != nil {
			t.Fatal(err)
		}
		sc, _ = c.Scores()
		if sc.NKV != cells {
			t.Fatalf("the step attended %d cells, want the whole stream of %d", sc.NKV, cells)
		}
		r.step = append(r.step, sc.Data...)
		r.layer0 = sc.NHead * sc.NCells // the total has one row: all layers
		for i := range lens {
			r.logits = append(r.logits, append([]float32(nil), c.Logits(i)...))
		}
		return r
	}
	off, on := run("off"), run("on")
	check := func(what string, a, b []float32, row int, tol float64) {
		t.Helper()
		if len(a) != len(b) {
			t.Fatalf("%s: %d values with flash attention off, %d on", what, len(a), len(b))
		}
		worst := 0.0
		for r := 0; r < len(a); r += row {
			num, den := 0.0, 0.0
			for j := r; j < r+row; j++ {
				num += math.Abs(float64(a[j] - b[j]))
				den += math.Abs(float64(a[j]))
			}
			if den > 0 {
				worst = math.Max(worst, num/den)
			} else if num > 0 {
				worst = math.Inf(1)
			}
		}
		t.Logf("mode %v, streams of %d: %s: worst row relative L1 difference %.3g", mode, cells, what, worst)
		if worst > tol {
			t.Fatalf("%s: flash attention on differs from off by %g (tolerance %g)", what, worst, tol)
		}
	}
	check("prompt scores", off.prompt, on.prompt, cells, tol.prompt)
	if mode != ScoresTotal {
		check("step scores, first layer", off.step[:off.layer0], on.step[:on.layer0], cells, tol.layer0)
	}
	check("step scores, all layers", off.step, on.step, cells, tol.scores)
	for i := range lens {
		check("step logits", off.logits[i], on.logits[i], len(off.logits[i]), tol.logits)
	}
}
