package binding

import (
	"strings"
	"testing"
)

// KeyRow and ValueRow read one layer's row of a cell, each with its own
// name in errors: an empty buffer and a layer past the model's both fail.
func TestCacheRows(t *testing.T) {
	m := loadStories(t)
	c := newCtx(t, m, ContextParams{NCtx: 256, TypeK: "f32", TypeV: "f32"})
	info := m.Info()
	decodeStep(t, c, info.BOS, 0)
	// f32 rows of a layer: one value per KV head and head dimension.
	want := info.NHeadKV * info.NEmbd / info.NHead
	for _, r := range []struct {
		name string
		get  func(layer, cell int, out []float32) (int, error)
	}{{"key row", c.KeyRow}, {"value row", c.ValueRow}} {
		out := make([]float32, 1024)
		n, err := r.get(0, 0, out)
		if err != nil || n != want {
			t.Fatalf("%s of cell 0: %d values, %v; want %d", r.name, n, err, want)
		}
		nonzero := false
		for _, v := range out[:n] {
			nonzero = nonzero || v != 0
		}
		if !nonzero {
			t.Errorf("%s of the decoded cell is all zero", r.name)
		}
		if _, err := r.get(0, 0, nil); err == nil || !strings.HasPrefix(err.Error(), r.name+": empty") {
			t.Errorf("%s with no buffer: %v", r.name, err)
		}
		if _, err := r.get(info.NLayer, 0, out); err == nil || !strings.HasPrefix(err.Error(), r.name+": layer") {
			t.Errorf("%s of layer %d: %v", r.name, info.NLayer, err)
		}
	}
}
