package session

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/gguf"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/internal/testmodel"
	"github.com/h2o-kv/h2o/internal/testutil"
)

// headDim64Model is a small random-weight Llama with heads of 64 dimensions
// (q8_0 keys need a multiple of 32; the shared test models have 8 and 16).
func headDim64Model(t *testing.T) (*binding.Model, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hd64.gguf")
	shape := gguf.LlamaShape{NLayer: 2, NEmbd: 128, NHead: 2, NHeadKV: 1, NFF: 256, NVocab: 512, NCtx: 512}
	if err := gguf.WriteRandomLlama(path, gguf.LlamaOptions{Shape: shape, Type: gguf.F16, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	return loadModel(t, path), path
}

// ropeOf reads the RoPE settings of a GGUF Llama: the base and the
// dimensions rotated per head.
func ropeOf(t *testing.T, path string, headDim int) (base float64, nRot int) {
	t.Helper()
	in, err := gguf.ReadInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	base, nRot = 10000, headDim
	if kv, ok := in.Get("llama.rope.freq_base"); ok {
		base = float64(kv.Value.(float32))
	}
	if kv, ok := in.Get("llama.rope.dimension_count"); ok {
		n, _ := kv.Uint()
		nRot = int(n)
	}
	return base, nRot
}

// rotate applies llama's RoPE (adjacent pairs) by shift positions to every
// head of key, in float64.
func rotate(key []float32, headDim, nRot int, base float64, shift int) []float32 {
	out := append([]float32(nil), key...)
	for h := 0; h+headDim <= len(key); h += headDim {
		for i := 0; i < nRot; i += 2 {
			theta := float64(shift) * math.Pow(base, -float64(i)/float64(nRot))
			x0, x1 := float64(key[h+i]), float64(key[h+i+1])
			out[h+i] = float32(x0*math.Cos(theta) - x1*math.Sin(theta))
			out[h+i+1] = float32(x0*math.Sin(theta) + x1*math.Cos(theta))
		}
	}
	return out
}

// Keys rotated on read hold the exact rank-position semantics without
// drift: after more than 10,000 rolling evictions, every kept token's layer-0
// key as attention reads it (the stored key rotated by its cell's shift)
// equals the key of a fresh decode of that token at its rank, within one
// rounding of the key type: keys are stored once and never rotated again.
// Keys re-rotated in place in f16 are rounded at every shift (the old
// default therefore was f32).
func TestRotateOnReadKeys(t *testing.T) {
	stories := loadModel(t, testutil.Stories260K(t))
	hd64, hd64Path := headDim64Model(t)
	for _, tc := range []struct {
		m     *binding.Model
		path  string
		typeK string
		tol   float64
	}{
		{stories, testutil.Stories260K(t), "f32", 1e-6},
		{stories, testutil.Stories260K(t), "f16", 1e-3},
		{hd64, hd64Path, "f16", 1e-3},
		{hd64, hd64Path, "q8_0", 1e-2},
	} {
		info := tc.m.Info()
		headDim := info.NEmbd / info.NHead
		base, nRot := ropeOf(t, tc.path, headDim)
		s := newSession(t, tc.m, Options{Policy: h2o.Config{Policy: h2o.H2O, Budget: 32, HeavyHitters: 16, Rolling: true}, TypeK: tc.typeK, KeyRotation: RotateOnRead, Threads: 1})
		if !s.Context().RotateOnRead() {
			t.Fatalf("%s: the session does not rotate keys on read", tc.typeK)
		}
		if err := s.Feed([]int32{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		sampleUntilEvictions(t, s, 10000)
		fresh := newSession(t, tc.m, Options{Policy: h2o.Config{Policy: h2o.Full}, NCtx: 256, TypeK: "f32", Threads: 1})
		cells := make([]binding.Cell, s.Context().NCtx())
		s.Context().Cells(cells)
		n := info.NEmbd / info.NHead * info.NHeadKV
		stored, want := make([]float32, n), make([]float32, n)
		b := binding.NewBatch(1)
		defer b.Close()
		worst, maxShift, checked := 0.0, 0, 0
		for cell, c := range cells {
			if c.Pos < 0 {
				continue
			}
			if _, err := s.Context().KeyRow(0, cell, stored); err != nil {
				t.Fatal(err)
			}
			shift, err := s.Context().CellShift(cell)
			if err != nil {
				t.Fatal(err)
			}
			e := s.Tracker().Entries()[s.Tracker().IndexOfPos(c.Pos)]
			freshKey(t, fresh, b, e.Token, c.Pos, want)
			worst = math.Max(worst, relErr(rotate(stored, headDim, nRot, base, shift), want))
			maxShift = max(maxShift, -shift)
			checked++
		}
		t.Logf("%s (%d-dim heads) K %s: worst relative key error %.3g over %d kept tokens after %d evictions (shifts up to %d)",
			filepath.Base(tc.path), headDim, tc.typeK, worst, checked, s.Stats().Evictions, maxShift)
		if checked != 32 || maxShift == 0 {
			t.Fatalf("%s: %d tokens checked, largest shift %d: want 32 and a shifted cache", tc.typeK, checked, maxShift)
		}
		if worst > tc.tol {
			t.Errorf("%s %s: keys as read differ by %.3g from fresh keys at their ranks, want at most %.3g", filepath.Base(tc.path), tc.typeK, worst, tc.tol)
		}
	}
}

// With every stream the same (teacher forcing) and the same tokens kept,
// keys rotated on read give the logits of keys re-rotated in place (f32):
// the two ways differ only in rounding. The sink policy keeps the first
// tokens where they are while the rest shift, so a shift applied wrongly
// shows (under a window every kept key shifts alike, and RoPE is relative).
// On a GPU machine also with every layer on the GPU, where the rotation on
// read is a CUDA RoPE pass over the K view.
func TestRotateOnReadLogits(t *testing.T) {
	path := testutil.Stories260K(t)
	backends := []int{0}
	if binding.HasGPU() {
		backends = append(backends, -1)
	}
	for _, ngl := range backends {
		m, err := binding.LoadModel(path, binding.ModelParams{GPULayers: ngl})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		run := func(typeK string, rot KeyRotation) []float32 {
			return rollingLogits(t, m, Options{Policy: h2o.Config{Policy: h2o.Sink, Budget: 32, Rolling: true},
				TypeK: typeK, TypeV: "f32", FlashAttn: "off", KeyRotation: rot, Threads: 1})
		}
		ref := run("f32", RotateInPlace)
		for _, c := range []struct {
			typeK string
			tol   float64
		}{{"f32", 5e-4}, {"f16", 5e-2}} {
			got := run(c.typeK, RotateOnRead)
			worst := 0.0
			for i := range got {
				worst = math.Max(worst, math.Abs(float64(got[i]-ref[i])))
			}
			t.Logf("ngl %d, K %s rotated on read: worst logit difference from in place f32 over 2,000 evictions %.3g", ngl, c.typeK, worst)
			if worst > c.tol {
				t.Errorf("ngl %d, K %s rotated on read: logits differ by %.3g, want at most %.3g", ngl, c.typeK, worst, c.tol)
			}
		}
	}
}

// On the GPU with flash attention on, the rotation on read of f16 keys and
// the attention are one CUDA kernel (the flash attention rotates the keys it
// reads; the evaluation model's 64-dim heads qualify). f32 keys take the RoPE
// pass (rotated in f32, then cast to f16 for flash attention): the two differ
// by the rounding of the stored keys to f16 only. A wrong angle or a key read
// unrotated moves the logits by whole units.
func TestRotateOnReadFlashAttnGPU(t *testing.T) {
	m := testmodel.LoadGPU(t, testutil.EvalModel(t), "the fused CUDA path")
	run := func(typeK string) []float32 {
		return rollingLogits(t, m, Options{Policy: h2o.Config{Policy: h2o.Sink, Budget: 64, Rolling: true},
			TypeK: typeK, TypeV: "f16", FlashAttn: "on", KeyRotation: RotateOnRead, Threads: 1})
	}
	ref := run("f32")
	got := run("f16")
	worst, sum := 0.0, 0.0
	for i := range got {
		d := math.Abs(float64(got[i] - ref[i]))
		worst = math.Max(worst, d)
		sum += d
	}
	// f16 rounding moves this model's logits (up to about 18) by 0.3 at worst
	// and 0.03 on average (CPU, 2,000 evictions); not rotating the keys by
	// their shifts moves them by 8.6 and 0.55
	const tolWorst, tolMean = 1.0, 0.1
	mean := sum / float64(len(got))
	t.Logf("K f16 rotated on read by flash attention: logits differ from f32 keys' by %.3g at worst, %.3g on average, over 2,000 evictions", worst, mean)
	if worst > tolWorst || mean > tolMean {
		t.Errorf("K f16 rotated on read by flash attention: logits differ by %.3g at worst and %.3g on average, want at most %.3g and %.3g",
			worst, mean, tolWorst, tolMean)
	}
}

// rollingLogits teacher-forces a fixed token stream through a session until
// 2,000 evictions and returns every step's logits, one after another.
func rollingLogits(t *testing.T, m *binding.Model, o Options) []float32 {
	t.Helper()
	s := newSession(t, m, o)
	if err := s.Feed([]int32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	var all []float32
	for i := 0; s.Stats().Evictions < 2000; i++ {
		if err := s.Step(streamToken(i, m.Info().NVocab)); err != nil {
			t.Fatal(err)
		}
		all = append(all, s.Logits()...)
	}
	return all
}

// streamToken is a fixed pseudo-random token stream (not 0: avoid special ids).
func streamToken(i, nVocab int) int32 {
	return int32(1 + (uint32(i)*2654435761)%uint32(nVocab-1))
}
