// Command leakloop loads a model, generates with an H2O session and closes
// everything, several times: run it under valgrind (scripts/leakcheck.sh) to
// check that every C allocation has an owner that frees it.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/session"
)

func main() {
	model := flag.String("m", "", "GGUF model")
	loops := flag.Int("loops", 3, "load/generate/close cycles")
	flag.Parse()
	for i := 0; i < *loops; i++ {
		if err := cycle(*model); err != nil {
			fmt.Fprintln(os.Stderr, "leakloop:", err)
			os.Exit(1)
		}
	}
	fmt.Println("leakloop: done")
}

func cycle(path string) error {
	m, err := binding.LoadModel(path, binding.ModelParams{})
	if err != nil {
		return err
	}
	defer m.Close()
	// per token, per head (whose moves run their own graphs), and per head
	// with flash attention (the decode graph replaces and keeps its state)
	for _, c := range []struct {
		g  h2o.Granularity
		fa string
	}{{h2o.PerToken, ""}, {h2o.PerHead, ""}, {h2o.PerHead, "on"}} {
		if err := generate(m, c.g, c.fa); err != nil {
			return err
		}
	}
	// plain attention, and flash attention with its logits output (and an
	// op profile, a C table of its own)
	for _, fa := range []string{"off", "on"} {
		if err := batched(m, fa); err != nil {
			return err
		}
	}
	return nil
}

// batched runs three requests on a two-sequence batcher (streams, slot refill).
func batched(m *binding.Model, flashAttn string) error {
	var prof *binding.OpProfile
	if flashAttn == "on" {
		prof = binding.NewOpProfile()
		defer prof.Close()
	}
	b, err := session.NewBatcher(m, session.Options{Policy: h2o.Config{Policy: h2o.H2O, Budget: 32, HeavyHitters: 16}, Threads: 1, FlashAttn: flashAttn, Profile: prof}, 2)
	if err != nil {
		return err
	}
	defer b.Close()
	toks, err := m.Tokenize("Once upon a time", true, false)
	if err != nil {
		return err
	}
	n := 0
	return b.Run(func() (session.Request, bool) {
		n++
		return session.Request{ID: n, Prompt: toks, Gen: session.GenOptions{MaxTokens: 16 * n}}, n <= 3
	}, func(d session.Done) error { return d.Err })
}

func generate(m *binding.Model, g h2o.Granularity, flashAttn string) error {
	s, err := session.New(m, session.Options{Policy: h2o.Config{Policy: h2o.H2O, Budget: 32, HeavyHitters: 16, Rolling: true, Granularity: g}, Threads: 1, FlashAttn: flashAttn})
	if err != nil {
		return err
	}
	defer s.Close()
	toks, err := m.Tokenize("Once upon a time", true, false)
	if err != nil {
		return err
	}
	if err := s.Feed(toks); err != nil {
		return err
	}
	_, err = s.Generate(session.GenOptions{MaxTokens: 64}, nil)
	return err
}
