package binding

import (
	"strings"
	"testing"
)

// An op profile sees every layer's matrix products, groups them across
// layers, forgets them on Reset, and cannot share the eval callback with a
// softmax capture.
func TestOpProfile(t *testing.T) {
	m := loadStories(t)
	prof := NewOpProfile()
	defer prof.Close()
	c := newCtx(t, m, ContextParams{NCtx: 256, Profile: prof})
	toks, _ := m.Tokenize("Once upon a time", true, false)
	decodeAll(t, c, toks, 0)
	nLayer := m.Info().NLayer
	found := map[string]int{}
	for _, o := range prof.Ops() {
		if o.Time < 0 || o.Count <= 0 {
			t.Fatalf("%+v", o)
		}
		found[o.Key] = o.Count
	}
	if found["MUL_MAT ffn_up"] != nLayer {
		t.Fatalf("MUL_MAT ffn_up seen %d times, want one per layer (%d); nodes: %v", found["MUL_MAT ffn_up"], nLayer, found)
	}
	for k := range found {
		if _, name, _ := strings.Cut(k, " "); strings.ContainsAny(name, "0123456789") {
			t.Fatalf("node key %q keeps a layer number", k)
		}
	}
	prof.Reset()
	if n := len(prof.Ops()); n != 0 {
		t.Fatalf("%d kinds after Reset", n)
	}

	capture := NewSoftmaxCapture("kq_soft_max", nLayer, m.Info().NHead, 256)
	defer capture.Close()
	if _, err := NewContext(m, ContextParams{NCtx: 256, Profile: prof, Capture: capture}); err == nil {
		t.Fatal("a capture and a profile together: no error")
	}
}
