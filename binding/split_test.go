package binding

import (
	"slices"
	"strings"
	"testing"
)

// Which GPUs a split puts layers (and the KV cache) on, and the splits
// refused before llama.cpp sees them.
func TestSplitParams(t *testing.T) {
	for _, c := range []struct {
		p    ModelParams
		want []int
	}{
		{ModelParams{}, nil},
		{ModelParams{GPULayers: -1}, []int{0, 1, 2}},
		{ModelParams{GPULayers: 8, Split: SplitNone, MainGPU: 2}, []int{2}},
		{ModelParams{GPULayers: -1, Split: SplitRow, TensorSplit: []float32{0, 2, 1}}, []int{1, 2}},
		{ModelParams{GPULayers: -1, TensorSplit: []float32{1}}, []int{0}},
	} {
		if got := c.p.CacheGPUs(3); !slices.Equal(got, c.want) {
			t.Errorf("%+v: GPUs %v, want %v", c.p, got, c.want)
		}
		if err := c.p.checkSplit(3); err != nil {
			t.Errorf("%+v refused: %v", c.p, err)
		}
	}
	for _, c := range []struct {
		p    ModelParams
		nGPU int
		want string
	}{
		{ModelParams{Split: "rows"}, 1, "split mode"},
		{ModelParams{MainGPU: 2}, 2, "main GPU 2"},
		{ModelParams{MainGPU: -1}, 0, "main GPU -1"},
		{ModelParams{MainGPU: 1}, 0, "has 0 GPU"},
		{ModelParams{TensorSplit: []float32{0, 0}}, 2, "sum to 0"},
		{ModelParams{TensorSplit: []float32{1, -1}}, 2, ">= 0"},
		{ModelParams{TensorSplit: []float32{1, 1, 1}}, 2, "has 2 GPU"},
		{ModelParams{TensorSplit: make([]float32, MaxDevices()+1)}, 0, "at most"},
	} {
		err := c.p.checkSplit(c.nGPU)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v with %d GPUs: %v, want an error saying %q", c.p, c.nGPU, err, c.want)
		}
	}
}
