package session_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/gguf"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/session"
)

// tinyModel writes a 2-layer Llama of random weights (gguf's "tiny" preset)
// into a temporary folder and loads it; closeModel closes it and removes the
// folder. Use binding.LoadModel on a real GGUF file instead: a random model
// generates gibberish, but runs and evicts like a real one.
func tinyModel() (m *binding.Model, closeModel func()) {
	dir, err := os.MkdirTemp("", "h2o-example")
	if err != nil {
		log.Fatal(err)
	}
	shape, err := gguf.Preset("tiny")
	if err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "tiny.gguf")
	if err := gguf.WriteRandomLlama(path, gguf.LlamaOptions{Shape: shape, Type: gguf.F16, Seed: 1}); err != nil {
		log.Fatal(err)
	}
	m, err = binding.LoadModel(path, binding.ModelParams{})
	if err != nil {
		log.Fatal(err)
	}
	return m, func() { m.Close(); os.RemoveAll(dir) }
}

// Generate under H2O with a cache budget of 64 tokens (32 heavy hitters, a
// recent window of 32): the prompt is read in chunks, evicting after each,
// and every generated token evicts one, so the cache never holds more than
// the budget plus one chunk.
func Example() {
	model, closeModel := tinyModel()
	defer closeModel()

	s, err := session.New(model, session.Options{
		Policy:  h2o.Config{Policy: h2o.H2O, Budget: 64, HeavyHitters: 32},
		Chunk:   32,
		Threads: 1, // a tiny model: one thread beats a thread pool
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	prompt, err := model.Tokenize(strings.Repeat("the quick brown fox jumps over the lazy dog. ", 8), true, false)
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Feed(prompt); err != nil {
		log.Fatal(err)
	}
	// IgnoreEOS: random weights may pick the end token at any step
	res, err := s.Generate(session.GenOptions{MaxTokens: 100, IgnoreEOS: true}, nil)
	if err != nil {
		log.Fatal(err)
	}
	st := s.Stats()
	fmt.Printf("prompt %d tokens, generated %d (%s)\n", st.PromptTokens, res.NTokens, res.Finish)
	fmt.Printf("cache: %d tokens in %d cells; %d seen, %d evicted\n", st.CacheUsed, st.CacheCells, st.Seen, st.Evictions)
	// Output:
	// prompt 266 tokens, generated 100 (length)
	// cache: 64 tokens in 256 cells; 366 seen, 302 evicted
}

// A Batcher runs several requests on one context, each sequence with its
// own H2O state and KV stream; a slot that finishes takes the next request.
func ExampleBatcher() {
	model, closeModel := tinyModel()
	defer closeModel()

	b, err := session.NewBatcher(model, session.Options{
		Policy:  h2o.Config{Policy: h2o.H2O, Budget: 32, HeavyHitters: 16},
		Chunk:   32,
		Threads: 1,
	}, 2)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	var reqs []session.Request
	for i, text := range []string{"once upon a time", "the cat sat on the mat", "a long time ago in a land far away"} {
		toks, err := model.Tokenize(text, true, false)
		if err != nil {
			log.Fatal(err)
		}
		reqs = append(reqs, session.Request{ID: i, Prompt: toks, Gen: session.GenOptions{MaxTokens: 30 * (i + 1), IgnoreEOS: true}})
	}
	done := map[int]session.Done{}
	err = b.Run(func() (session.Request, bool) {
		if len(reqs) == 0 {
			return session.Request{}, false
		}
		r := reqs[0]
		reqs = reqs[1:]
		return r, true
	}, func(d session.Done) error {
		done[d.ID] = d
		return d.Err
	})
	if err != nil {
		log.Fatal(err)
	}
	for id := range len(done) {
		d := done[id]
		fmt.Printf("request %d: %d tokens generated, %d in its cache, %d evicted\n", id, d.Result.NTokens, d.Stats.CacheUsed, d.Stats.Evictions)
	}
	fmt.Printf("%d sequences of %d cells each\n", b.Slots(), b.CellsPerSequence())
	// Output:
	// request 0: 30 tokens generated, 32 in its cache, 7 evicted
	// request 1: 60 tokens generated, 32 in its cache, 41 evicted
	// request 2: 90 tokens generated, 32 in its cache, 80 evicted
	// 2 sequences of 128 cells each
}

// The attention each prompt token receives from the prompt, per layer and
// KV head, and its score as H2O ranks it (`h2o attn` prints these). Each
// query's softmax sums to one per query head, so a KV head's row over the
// prompt adds up to the queries times the query heads it serves.
func ExampleSession_AttendPrompt() {
	model, closeModel := tinyModel()
	defer closeModel()

	prompt, err := model.Tokenize("the quick brown fox", true, false)
	if err != nil {
		log.Fatal(err)
	}
	s, err := session.New(model, session.Options{
		Policy:  h2o.Config{Policy: h2o.Full},
		Scores:  binding.ScoresKVHead, // a row per layer and KV head
		Threads: 1,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	pa, err := s.AttendPrompt(prompt)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d tokens, %d layers x %d KV heads, scores by %s\n", len(pa.Tokens), pa.NLayer, pa.NHead, pa.Aggregate)
	for r := 0; r < pa.NLayer*pa.NHead; r++ {
		sum := 0.0
		for _, t := range pa.Tokens {
			sum += t.PerHead[r]
		}
		fmt.Printf("layer %d KV head %d gave %.2f\n", r/pa.NHead, r%pa.NHead, sum)
	}
	// Output:
	// 16 tokens, 2 layers x 2 KV heads, scores by sum
	// layer 0 KV head 0 gave 32.00
	// layer 0 KV head 1 gave 32.00
	// layer 1 KV head 0 gave 32.00
	// layer 1 KV head 1 gave 32.00
}
