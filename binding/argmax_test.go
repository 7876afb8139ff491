package binding

import (
	"slices"
	"testing"
)

// The greedy token ids computed next to the logits (patch 0012) equal the
// host's argmax of the same decode's logits, row for row, for outputs of
// two sequences in one batch (on every backend the model runs on); with
// argmax output off again the decode returns logits and no ids.
func TestOutputArgmax(t *testing.T) {
	m := loadStories(t)
	toks, _ := m.Tokenize("Once upon a time, there was a little girl", true, false)
	outputs := []int{1, 2, 5, 8, 9} // batch entries with logits
	decode := func(c *Context) {
		t.Helper()
		b := NewBatch(16)
		defer b.Close()
		for i := 0; i < 10; i++ {
			b.Add(toks[i%len(toks)], int32(i/2), int32(i%2), slices.Contains(outputs, i))
		}
		if err := c.Decode(b); err != nil {
			t.Fatal(err)
		}
	}
	host := newCtx(t, m, ContextParams{NCtx: 512, NSeqMax: 2})
	decode(host)
	if host.OutputArgmax() != nil {
		t.Fatal("greedy ids without SetOutputArgmax")
	}
	nv := m.Info().NVocab
	all := host.OutputLogits()
	var want []int32
	for j := range outputs {
		row := all[j*nv : (j+1)*nv]
		want = append(want, int32(slices.Index(row, slices.Max(row))))
	}
	dev := newCtx(t, m, ContextParams{NCtx: 512, NSeqMax: 2})
	dev.SetOutputArgmax(true)
	decode(dev)
	if got := dev.OutputArgmax(); !slices.Equal(got, want) {
		t.Fatalf("greedy ids %v, the host's argmax of the logits %v", got, want)
	}
	if slices.Equal(want, slices.Repeat(want[:1], len(want))) {
		t.Fatal("every output has the same greedy token: the test compares nothing")
	}
	dev.SetOutputArgmax(false)
	dev.ClearMemory()
	decode(dev)
	if dev.OutputArgmax() != nil || !slices.Equal(dev.OutputLogits(), all) {
		t.Fatal("argmax output off: no ids and the same logits expected")
	}
}
