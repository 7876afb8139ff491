package session

import (
	"errors"
	"strings"
	"testing"

	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/internal/testutil"
)

// A request's own policy runs as that policy runs alone on a Session, next
// to requests on the Batcher's policy; its pieces arrive as sampled.
func TestBatcherRequestPolicyAndPieces(t *testing.T) {
	m := loadModel(t, testutil.Stories260K(t))
	reqs := batchRequests(t, m)[:4]
	def := Options{Policy: h2o.Config{Policy: h2o.H2O, Budget: 48, HeavyHitters: 24}, Chunk: 32, TypeK: "f32", TypeV: "f32", FlashAttn: "off"}
	own := []*h2o.Config{nil, {Policy: h2o.Window, Budget: 32}, {Policy: h2o.H2O, Budget: 64, HeavyHitters: 16, Rolling: true}, {Policy: h2o.Full}}
	pieces := make([]strings.Builder, len(reqs))
	for i := range reqs {
		reqs[i].Policy = own[i]
		reqs[i].OnPiece = func(p string) bool { pieces[i].WriteString(p); return true }
	}
	got := runBatcher(t, m, def, 3, 0, reqs)
	for i, r := range reqs {
		o := def
		if own[i] != nil {
			o.Policy = *own[i]
		}
		want := generateAlone(t, m, o, r)
		if g := got[i].Result; g.Text != want.Text || g.Finish != want.Finish {
			t.Fatalf("request %d (%+v):\nbatched %q (%s)\nalone   %q (%s)", i, own[i], g.Text, g.Finish, want.Text, want.Finish)
		}
		if pieces[i].String() != got[i].Result.Text {
			t.Fatalf("request %d: pieces %q, text %q", i, pieces[i].String(), got[i].Result.Text)
		}
		if own[i] != nil && own[i].Policy == h2o.Window && got[i].Stats.CacheUsed > 32 {
			t.Fatalf("request %d kept %d tokens over its budget 32", i, got[i].Stats.CacheUsed)
		}
	}
}

// Policies the context cannot run are refused before they take a slot.
func TestBatcherCheckRequest(t *testing.T) {
	m := loadModel(t, testutil.Stories260K(t))
	tok, err := m.Tokenize(strings.Repeat("The cat sat on the mat. ", 40), true, false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBatcher(m, Options{Policy: h2o.Config{Policy: h2o.H2O, Budget: 48, HeavyHitters: 24}, Chunk: 32, Threads: 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	w, err := NewBatcher(m, Options{Policy: h2o.Config{Policy: h2o.Window, Budget: 48}, Chunk: 32, Threads: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, tc := range []struct {
		b      *Batcher
		r      Request
		want   string
		isFull bool
	}{
		{b, Request{}, "empty prompt", false},
		{b, Request{Prompt: tok, Policy: &h2o.Config{Policy: h2o.H2O, Budget: 128}}, "at most 127", false},
		{b, Request{Prompt: tok, Policy: &h2o.Config{Policy: h2o.Full}}, "exceeds the 128 KV cells", true},
		{b, Request{Prompt: tok, Policy: &h2o.Config{Policy: h2o.Full, Rolling: true}}, "full", false},
		{w, Request{Prompt: tok, Policy: &h2o.Config{Policy: h2o.H2O, Budget: 32}}, "does not collect", false},
	} {
		_, err := tc.b.CheckRequest(tc.r)
		if !errors.Is(err, ErrRequest) || !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrContextFull) != tc.isFull {
			t.Fatalf("%+v: %v", tc.r.Policy, err)
		}
		if err := tc.b.Start(tc.r); err == nil || tc.b.Active() != 0 {
			t.Fatalf("%+v started (%v)", tc.r.Policy, err)
		}
	}
	if _, err := b.CheckRequest(Request{Prompt: tok[:100], Policy: &h2o.Config{Policy: h2o.Full}}); err != nil {
		t.Fatal(err)
	}
}

// Cancel frees a slot between steps: the next request takes it and
// generates what it generates alone.
func TestBatcherCancel(t *testing.T) {
	m := loadModel(t, testutil.Stories260K(t))
	reqs := batchRequests(t, m)[:2]
	o := Options{Policy: h2o.Config{Policy: h2o.H2O, Budget: 48, HeavyHitters: 24}, Chunk: 32, TypeK: "f32", TypeV: "f32", FlashAttn: "off", Threads: 1}
	r := reqs[1]
	r.ID = 0
	alone := runBatcher(t, m, o, 1, 0, []Request{r})[0]
	b, err := NewBatcher(m, o, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Start(reqs[0]); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := b.Step(false); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := b.Cancel(7); ok {
		t.Fatal("cancelled a request that does not run")
	}
	d, ok := b.Cancel(reqs[0].ID)
	if !ok || !errors.Is(d.Err, ErrCancelled) || d.Result.NTokens == 0 || b.Active() != 0 || b.CacheUsed() != 0 {
		t.Fatalf("cancel: ok %v, %+v, active %d", ok, d, b.Active())
	}
	if err := b.Start(r); err != nil {
		t.Fatal(err)
	}
	var got Done
	for b.Active() > 0 {
		done, err := b.Step(false)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range done {
			got = d
		}
	}
	if got.Result.Text != alone.Result.Text {
		t.Fatalf("after a cancel: %q, alone %q", got.Result.Text, alone.Result.Text)
	}
}
