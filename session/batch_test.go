package session

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/internal/testutil"
)

var batchPrompts = []string{
	"Once upon a time, there was a little girl named Lily.",
	strings.Repeat("Tom had a red ball. He played with it in the park every day. ", 6),
	"The cat sat on the mat.",
	strings.Repeat("One day, a big bird flew over the house and sang a happy song. ", 4),
	"Sam and Sue went to the beach.",
	strings.Repeat("Mom said the cake was for the party. ", 9),
}

func batchRequests(t *testing.T, m *binding.Model) []Request {
	t.Helper()
	var reqs []Request
	for i, p := range batchPrompts {
		toks, err := m.Tokenize(p, true, false)
		if err != nil {
			t.Fatal(err)
		}
		// Different lengths, so sequences finish at different steps and
		// slots are refilled while others are mid-generation.
		reqs = append(reqs, Request{ID: i, Prompt: toks, Gen: GenOptions{MaxTokens: 40 + 25*i}})
	}
	return reqs
}

// generateAlone runs request r alone on a Session with options o: what a
// batched run of it must equal.
func generateAlone(t *testing.T, m *binding.Model, o Options, r Request) Result {
	t.Helper()
	s := newSession(t, m, o)
	if err := s.Feed(r.Prompt); err != nil {
		t.Fatal(err)
	}
	want, err := s.Generate(r.Gen, nil)
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// requestsOf hands out reqs one by one, as Batcher.Run asks for them.
func requestsOf(reqs []Request) func() (Request, bool) {
	i := 0
	return func() (Request, bool) {
		if i == len(reqs) {
			return Request{}, false
		}
		i++
		return reqs[i-1], true
	}
}

func runBatcher(t *testing.T, m *binding.Model, o Options, n, maxStreams int, reqs []Request) []Done {
	t.Helper()
	o.Threads = 1
	b, err := NewBatcher(m, o, n)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if fa := b.ctx.FlashAttn(); fa != (o.FlashAttn == "on") {
		t.Fatalf("flash attention %v with option %q", fa, o.FlashAttn)
	}
	if maxStreams > 0 {
		b.maxStreams = maxStreams // decode each step in several groups
	}
	out := make([]Done, len(reqs))
	maxActive := 0
	err = b.Run(requestsOf(reqs), func(d Done) error {
		maxActive = max(maxActive, b.Active()+1)
		out[d.ID] = d
		return d.Err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n > 1 && maxActive < 2 {
		t.Fatalf("at most %d sequences ran at once", maxActive)
	}
	if st := b.Stats(); st.Finished != len(reqs) {
		t.Fatalf("finished %d of %d", st.Finished, len(reqs))
	}
	return out
}

// Batched greedy generation equals generating each request alone on a
// Session with the same options, while the other sequences evict around it.
func TestBatcherEqualsSequential(t *testing.T) {
	m := loadModel(t, testutil.Stories260K(t))
	reqs := batchRequests(t, m)
	for _, tc := range []struct {
		rolling bool
		fa      string // flash attention: decode steps take scores from its logits
		groups  int    // decode each step in groups of this many sequences (0: one decode)
		tol     float64
	}{{false, "off", 3, 1e-4}, {true, "off", 0, 1e-4}} {
		rolling := tc.rolling
		// f32 caches: with f16 ones, batched kernels round differently (logprobs
		// within ~3e-3); in f32 the difference is ~1e-6 and any leak between
		// sequences would show.
		o := Options{Policy: h2o.Config{Policy: h2o.H2O, Budget: 48, HeavyHitters: 24, Rolling: rolling}, Chunk: 32, TypeK: "f32", TypeV: "f32", FlashAttn: tc.fa}
		got := runBatcher(t, m, o, 4, tc.groups, reqs)
		evicted := false
		for i, r := range reqs {
			want := generateAlone(t, m, o, r)
			g := got[i].Result
			if g.Text != want.Text || g.NTokens != want.NTokens || g.Finish != want.Finish {
				t.Fatalf("%+v request %d:\nbatched    %q (%d, %s)\nsequential %q (%d, %s)", tc, i, g.Text, g.NTokens, g.Finish, want.Text, want.NTokens, want.Finish)
			}
			for k := range want.Logprobs {
				if math.Abs(g.Logprobs[k]-want.Logprobs[k]) > tc.tol {
					t.Fatalf("%+v request %d token %d: logprob %g batched, %g alone", tc, i, k, g.Logprobs[k], want.Logprobs[k])
				}
			}
			if got[i].Stats.Evictions > 0 {
				evicted = true
			}
			if got[i].Stats.CacheUsed > 48 || got[i].Stats.PromptTokens != len(r.Prompt) {
				t.Fatalf("request %d stats %+v", i, got[i].Stats)
			}
		}
		if !evicted {
			t.Fatal("no request evicted: the test does not exercise isolation")
		}
	}
}

// With flash attention on, decode steps take their scores from the kernel's
// logits (binding.TestScoresFlashAttn checks those against the plain path).
// The batcher then runs in one decode per step, evicts within its budget, and
// generates what it generates with flash attention off: on the CPU the kernel
// accumulates V in f16, so a near-tie in the scores may flip late in a long
// generation (the tokens then share a long common prefix; wrong scores
// diverge at the first evictions).
func TestBatcherFlashAttn(t *testing.T) {
	m := loadModel(t, testutil.Stories260K(t))
	reqs := batchRequests(t, m)
	res := map[string][]Done{}
	for _, fa := range []string{"off", "on"} {
		o := Options{Policy: h2o.Config{Policy: h2o.H2O, Budget: 48, HeavyHitters: 24}, Chunk: 32, FlashAttn: fa}
		res[fa] = runBatcher(t, m, o, 4, 0, reqs)
	}
	// budget 48 + chunk 32: streams of 128 cells, flash attention's step (256 without scores)
	for _, tc := range []struct {
		policy h2o.Policy
		cells  int
	}{{h2o.H2O, 128}, {h2o.Window, 256}} {
		b, err := NewBatcher(m, Options{Policy: h2o.Config{Policy: tc.policy, Budget: 48, Recent: 24}, Chunk: 32, FlashAttn: "on", Threads: 1}, 4)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.CellsPerSequence(); got != tc.cells {
			t.Fatalf("%s: streams of %d cells, want %d", tc.policy, got, tc.cells)
		}
		b.Close()
	}
	common, total := 0, 0
	for i := range reqs {
		a, b := res["off"][i], res["on"][i]
		if b.Stats.Evictions == 0 && a.Stats.Evictions > 0 || b.Stats.CacheUsed > 48 {
			t.Fatalf("request %d with flash attention: stats %+v", i, b.Stats)
		}
		n := 0
		for n < len(a.Result.Tokens) && n < len(b.Result.Tokens) && a.Result.Tokens[n] == b.Result.Tokens[n] {
			n++
		}
		common += n
		total += len(a.Result.Tokens)
	}
	t.Logf("flash attention on vs off: %d of %d tokens in common prefixes", common, total)
	if common < total/2 {
		t.Fatalf("flash attention on vs off: only %d of %d tokens in common prefixes", common, total)
	}
}

// One sequence's full context ends that request with ErrContextFull; the
// others finish normally.
func TestBatcherContextFullIsPerSequence(t *testing.T) {
	m := loadModel(t, testutil.Stories260K(t))
	reqs := batchRequests(t, m)[:2]
	reqs[0].Gen.MaxTokens = 1000 // cannot fit 256 cells
	b, err := NewBatcher(m, Options{Policy: h2o.Config{Policy: h2o.Full}, NCtx: 256, Threads: 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	i := 0
	var done []Done
	err = b.Run(func() (Request, bool) {
		if i == len(reqs) {
			return Request{}, false
		}
		i++
		return reqs[i-1], true
	}, func(d Done) error { done = append(done, d); return nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range done {
		switch d.ID {
		case 0:
			if !errors.Is(d.Err, ErrContextFull) || d.Result.NTokens == 0 {
				t.Fatalf("request 0: err %v after %d tokens", d.Err, d.Result.NTokens)
			}
		case 1:
			if d.Err != nil || d.Result.NTokens == 0 {
				t.Fatalf("request 1: %v", d.Err)
			}
		}
	}
	if len(done) != 2 {
		t.Fatalf("%d done", len(done))
	}
}

// More sequences than llama.cpp's old limit of 256 in one context (patch
// 0011 raised it): 264 sequences decode together, evicting, and each one's
// greedy output equals the same request run alone.
func TestBatcherPastOldSequenceLimit(t *testing.T) {
	const n = 264
	if binding.MaxSequences() < n {
		t.Fatalf("llama.cpp holds %d sequences in a context, want at least %d", binding.MaxSequences(), n)
	}
	m := loadModel(t, testutil.Stories260K(t))
	base := batchRequests(t, m)
	var reqs []Request
	for i := 0; i < n; i++ {
		r := base[i%len(base)]
		// a different prompt for each: cut at a length of its own
		cut := max(2, len(r.Prompt)-i/len(base)%len(r.Prompt))
		reqs = append(reqs, Request{ID: i, Prompt: r.Prompt[:cut], Gen: GenOptions{MaxTokens: 8}})
	}
	o := Options{Policy: h2o.Config{Policy: h2o.H2O, Budget: 16, HeavyHitters: 8, Rolling: true}, Chunk: 8, TypeK: "f32", TypeV: "f32", FlashAttn: "off"}
	got := runBatcher(t, m, o, n, 0, reqs)
	evicted := 0
	for i, r := range reqs {
		want := generateAlone(t, m, o, r)
		if g := got[i].Result; g.Text != want.Text || g.NTokens != want.NTokens {
			t.Fatalf("request %d of %d:\nbatched %q (%d)\nalone   %q (%d)", i, n, g.Text, g.NTokens, want.Text, want.NTokens)
		}
		if got[i].Stats.Evictions > 0 {
			evicted++
		}
	}
	if evicted < n/2 {
		t.Fatalf("%d of %d requests evicted: the test does not exercise isolation", evicted, n)
	}
}

// Greedy text-only requests take their tokens from the ids computed next to
// the logits (the GPU default, forced here on the CPU): the same outputs as
// sampling from the logits on the host, and a request with log-probabilities
// in the same batch turns it off for its decodes.
func TestBatcherDeviceArgmax(t *testing.T) {
	m := loadModel(t, testutil.Stories260K(t))
	var reqs []Request
	for i, r := range batchRequests(t, m) {
		r.Gen.TextOnly = i != 2 // request 2 reads its log-probabilities
		reqs = append(reqs, r)
	}
	o := Options{Policy: h2o.Config{Policy: h2o.H2O, Budget: 48, HeavyHitters: 24}, Chunk: 32, FlashAttn: "off", Threads: 1}
	run := func(argmax bool) ([]Done, int) {
		b, err := NewBatcher(m, o, 3)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		b.deviceArgmax = argmax
		out := make([]Done, len(reqs))
		steps := 0
		err = b.Run(requestsOf(reqs), func(d Done) error {
			out[d.ID] = d
			if b.argmax {
				steps++
			}
			return d.Err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out, steps
	}
	want, _ := run(false)
	got, withIDs := run(true)
	for i := range reqs {
		if got[i].Result.Text != want[i].Result.Text || got[i].Result.NTokens != want[i].Result.NTokens {
			t.Fatalf("request %d:\nids    %q (%d)\nlogits %q (%d)", i, got[i].Result.Text, got[i].Result.NTokens, want[i].Result.Text, want[i].Result.NTokens)
		}
	}
	if withIDs == 0 {
		t.Fatal("no decode took greedy ids: the test compares nothing")
	}
	if len(got[2].Result.Logprobs) != got[2].Result.NTokens {
		t.Fatalf("request 2: %d log-probabilities for %d tokens", len(got[2].Result.Logprobs), got[2].Result.NTokens)
	}
}
