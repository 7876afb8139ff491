package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/session"
	"github.com/urfave/cli/v2"
)

const attnDescription = ""

// attnCommand shows how much attention each prompt token receives: the
// quantity H2O ranks tokens by.
func attnCommand() *cli.Command {
	return newCommand(cmdAttn, "attn", "show each prompt token's accumulated attention and the heavy hitters", attnDescription, attnAction)
}

type attnToken struct {
	Index    int       `json:"index"`
	Token    int32     `json:"token"`
	Piece    string    `json:"piece"`
	Score    float64   `json:"score"`
	PerLayer []float64 `json:"per_layer"`
	// PerHead[layer][head] with --granularity head: what that head ranks by.
	PerHead [][]float64 `json:"per_head,omitempty"`
}

func attnAction(c *cli.Context) error {
	top := c.Int("top")
	gran, err := h2o.ParseGranularity(c.String("granularity"))
	if err != nil {
		return err
	}
	m, err := loadModel(c)
	if err != nil {
		return err
	}
	defer m.Close()
	toks, err := m.Tokenize(c.String("prompt"), true, false)
	if err != nil {
		return err
	}
	mode := binding.ScoresKVHead
	if c.Bool("per-query-head") {
		mode = binding.ScoresQueryHead
	}
	// the full cache, the whole prompt in one decode: every token is attended by every later one
	if len(toks) > 1000 {
		fmt.Fprintf(os.Stderr, "h2o: reading the %d-token prompt in one pass (full attention: time grows with the square of its length)\n", len(toks))
	}
	s, err := session.New(m, withThreadDefault(c, m, session.Options{Policy: h2o.Config{Policy: h2o.Full}, NCtx: len(toks), Chunk: len(toks),
		Threads: c.Int("threads"), FlashAttn: c.String("flash-attn"), TypeK: c.String("cache-type-k"), TypeV: c.String("cache-type-v"), Scores: mode}))
	if err != nil {
		return err
	}
	defer s.Close()
	pa, err := s.AttendPrompt(toks)
	if err != nil {
		return err
	}
	out := make([]attnToken, len(pa.Tokens))
	for i, t := range pa.Tokens {
		out[i] = attnToken{Index: i, Token: t.Token, Piece: m.Piece(t.Token, true), Score: t.Score, PerLayer: t.PerLayer}
		if gran == h2o.PerHead {
			for l := 0; l < pa.NLayer; l++ {
				out[i].PerHead = append(out[i].PerHead, t.PerHead[l*pa.NHead:(l+1)*pa.NHead])
			}
		}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"model": m.Path(), "layers": pa.NLayer, "heads": pa.NHead, "tokens": out})
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "idx\ttoken\tscore\tbar\t")
	maxScore := 0.0
	for _, t := range out {
		maxScore = max(maxScore, t.Score)
	}
	for _, t := range out {
		bar := strings.Repeat("#", int(30*t.Score/maxScore+0.5))
		fmt.Fprintf(w, "%d\t%q\t%.3f\t%-30s\t\n", t.Index, t.Piece, t.Score, bar)
	}
	w.Flush()
	top = min(top, len(out))
	ranked := append([]attnToken(nil), out...)
	sort.SliceStable(ranked, func(a, b int) bool { return ranked[a].Score > ranked[b].Score })
	fmt.Printf("\ntop %d heavy hitters (attention summed over %d layers x %d heads and %d query tokens):\n", top, pa.NLayer, pa.NHead, len(toks))
	for i, t := range ranked[:top] {
		fmt.Printf("%2d. #%d %q %.3f\n", i+1, t.Index, t.Piece, t.Score)
	}
	if gran == h2o.PerHead {
		// per-head eviction ranks each (layer, head) by its own row
		fmt.Printf("\ntop %d per (layer, head), as per-head eviction ranks them (token #index):\n", top)
		for l := 0; l < pa.NLayer; l++ {
			for h := 0; h < pa.NHead; h++ {
				sort.SliceStable(ranked, func(a, b int) bool { return ranked[a].PerHead[l][h] > ranked[b].PerHead[l][h] })
				var b strings.Builder
				for _, t := range ranked[:top] {
					fmt.Fprintf(&b, " #%d", t.Index)
				}
				fmt.Printf("L%d H%d:%s\n", l, h, b.String())
			}
		}
	}
	return nil
}
