// Command prefillcmp measures how the prefill mode changes quality: each
// document's first -prompt tokens are prefilled (full: attended exactly, then
// cut to the budget; chunked: evicting after every chunk), then the next -eval
// tokens are scored one by one as in generation. Prints the perplexity of the
// evaluated tokens and the prefill speed per mode.
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/internal/logprob"
	"github.com/h2o-kv/h2o/session"
)

func main() {
	model := flag.String("m", "../shared/models/debtext-30m-q8_0.gguf", "model")
	dir := flag.String("dir", "../shared/data/text/valid", "documents")
	docs := flag.Int("docs", 4, "documents (the first, by name, with enough tokens)")
	prompt := flag.Int("prompt", 1536, "prefilled tokens")
	eval := flag.Int("eval", 256, "evaluated tokens after the prompt")
	budget := flag.Int("budget", 256, "cache budget")
	chunk := flag.Int("chunk", 256, "prefill chunk")
	threads := flag.Int("t", 1, "threads")
	flag.Parse()
	binding.Init(binding.LogError)
	m, err := binding.LoadModel(*model, binding.ModelParams{})
	check(err)
	defer m.Close()
	files, _ := filepath.Glob(filepath.Join(*dir, "*"))
	sort.Strings(files)
	var texts [][]int32
	for _, f := range files {
		if len(texts) == *docs {
			break
		}
		b, err := os.ReadFile(f)
		check(err)
		toks, err := m.Tokenize(string(b), true, false)
		check(err)
		if len(toks) >= *prompt+*eval+1 {
			texts = append(texts, toks[:*prompt+*eval+1])
		}
	}
	fmt.Printf("| prefill | docs | ppl of tokens %d..%d | prefill t/s |\n| --- | ---: | ---: | ---: |\n", *prompt, *prompt+*eval)
	for _, mode := range []session.PrefillMode{session.PrefillFull, session.PrefillChunked} {
		s, err := session.New(m, session.Options{
			Policy:  h2o.Config{Policy: h2o.H2O, Budget: *budget, HeavyHitters: -1, Rolling: true},
			Prefill: mode, Chunk: *chunk, Threads: *threads, NCtx: max(*prompt, *budget) + *chunk,
		})
		check(err)
		nll, n, pre := 0.0, 0, time.Duration(0)
		for _, toks := range texts {
			s.Reset()
			start := time.Now()
			check(s.Feed(toks[:*prompt]))
			pre += time.Since(start)
			for i := *prompt; i < len(toks)-1; i++ {
				nll -= logprob.Of(s.Logits(), toks[i])
				n++
				check(s.Step(toks[i]))
			}
			nll -= logprob.Of(s.Logits(), toks[len(toks)-1])
			n++
		}
		fmt.Printf("| %s | %d | %.3f | %.0f |\n", mode, len(texts), math.Exp(nll/float64(n)), float64(len(texts)**prompt)/pre.Seconds())
		s.Close()
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "prefillcmp:", err)
		os.Exit(1)
	}
}
