package session

import (
	"strings"
	"testing"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
)

// The memory plan counts the free memory of the devices a model's split
// puts its KV cache on, and says when llama.cpp's sequence limit, not
// memory, bounds the plan.
func TestPlanParallelDevices(t *testing.T) {
	const gib = 1 << 30
	info := binding.ModelInfo{NLayer: 32, NHead: 32, NHeadKV: 32, NEmbd: 4096, NCtxTrain: 4096, NVocab: 32000}
	devices := []binding.Device{
		{Name: "CPU", Type: binding.DeviceCPU, FreeBytes: 100 * gib},
		{Name: "GPU0", Type: binding.DeviceGPU, FreeBytes: 40 * gib},
		{Name: "GPU1", Type: binding.DeviceGPU, FreeBytes: 60 * gib},
	}
	opts := Options{Policy: h2o.Config{Policy: h2o.H2O, Budget: 819}, Chunk: 77}
	for _, c := range []struct {
		name  string
		p     binding.ModelParams
		free  int64
		where string
	}{
		{"CPU only", binding.ModelParams{}, 100 * gib, "host memory"},
		{"layer split over both", binding.ModelParams{GPULayers: -1}, 100 * gib, "memory of 2 GPUs"},
		{"split none on GPU 1", binding.ModelParams{GPULayers: -1, Split: binding.SplitNone, MainGPU: 1}, 60 * gib, "GPU memory"},
		{"tensor split 1,0", binding.ModelParams{GPULayers: -1, TensorSplit: []float32{1, 0}}, 40 * gib, "GPU memory"},
		{"row split 1,3", binding.ModelParams{GPULayers: 16, Split: binding.SplitRow, TensorSplit: []float32{1, 3}}, 100 * gib, "memory of 2 GPUs"},
	} {
		p, err := planParallel(info, opts, c.p, devices)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if p.Free != c.free || p.Where != c.where {
			t.Errorf("%s: %.0f GiB of %s, want %.0f GiB of %s", c.name, gib2(p.Free), p.Where, gib2(c.free), c.where)
		}
		// 896 cells of 0.5 MiB each plus logits and score rows per sequence
		if want := int((p.Free - p.Reserve) / p.BytesPerSeq); p.Sequences != min(want, binding.MaxSequences()) || p.CellsPerSeq != 896 {
			t.Errorf("%s: %d sequences of %d cells, want %d of 896", c.name, p.Sequences, p.CellsPerSeq, want)
		}
	}
	huge := []binding.Device{{Name: "GPU", Type: binding.DeviceGPU, FreeBytes: 4096 * gib}}
	p, err := planParallel(info, opts, binding.ModelParams{GPULayers: -1}, huge)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Capped || p.Sequences != binding.MaxSequences() || !strings.Contains(p.String(), "limit") {
		t.Fatalf("4 TiB free: %s (capped %v)", p, p.Capped)
	}
}

func gib2(b int64) float64 { return float64(b) / (1 << 30) }
