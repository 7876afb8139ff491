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
	"github.com/urfave/cli/v2"
)

// attnCommand shows how much attention each prompt token receives: the
// quantity H2O ranks tokens by.
func attnCommand() *cli.Command {
	return &cli.Command{
		Name:   "attn",
		Usage:  "show each prompt token's accumulated attention and the heavy hitters",
		Flags:  flagsFor(cmdAttn),
		Action: attnAction,
	}
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
	m, err := loadModel(c)
	if err != nil {
		return err
	}
	defer m.Close()
	toks, err := m.Tokenize(c.String("prompt"), true, false)
	if err != nil {
		return err
	}
	gran, err := h2o.ParseGranularity(c.String("granularity"))
	if err != nil {
		return err
	}
	mode := binding.ScoresKVHead
	if c.Bool("per-query-head") {
		mode = binding.ScoresQueryHead
	}
	ctx, err := binding.NewContext(m, binding.ContextParams{NCtx: len(toks), NBatch: len(toks), Threads: c.Int("threads"), Scores: mode})
	if err != nil {
		return err
	}
	defer ctx.Close()
	b := binding.NewBatch(len(toks))
	defer b.Close()
	for i, t := range toks {
		b.Add(t, int32(i), 0, i == len(toks)-1)
	}
	if err := ctx.Decode(b); err != nil {
		return err
	}
	sc, _ := ctx.Scores()
	cells := make([]binding.Cell, sc.NKV)
	ctx.Cells(cells)
	out := make([]attnToken, len(toks))
	for i, t := range toks {
		out[i] = attnToken{Index: i, Token: t, Piece: m.Piece(t, true), PerLayer: make([]float64, sc.NLayer)}
		if gran == h2o.PerHead {
			out[i].PerHead = make([][]float64, sc.NLayer)
			for l := range out[i].PerHead {
				out[i].PerHead[l] = make([]float64, sc.NHead)
			}
		}
	}
	for j, cell := range cells {
		if cell.Pos < 0 || int(cell.Pos) >= len(out) {
			continue
		}
		tk := &out[cell.Pos]
		for l := 0; l < sc.NLayer; l++ {
			for h := 0; h < sc.NHead; h++ {
				v := float64(sc.Data[(l*sc.NHead+h)*sc.NCells+j])
				tk.PerLayer[l] += v
				tk.Score += v
				if tk.PerHead != nil {
					tk.PerHead[l][h] = v
				}
			}
		}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"model": m.Path(), "layers": sc.NLayer, "heads": sc.NHead, "tokens": out})
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
	ranked := append([]attnToken(nil), out...)
	sort.SliceStable(ranked, func(a, b int) bool { return ranked[a].Score > ranked[b].Score })
	fmt.Printf("\ntop %d heavy hitters (attention summed over %d layers x %d heads and %d query tokens):\n", min(c.Int("top"), len(ranked)), sc.NLayer, sc.NHead, len(toks))
	for i, t := range ranked[:min(c.Int("top"), len(ranked))] {
		fmt.Printf("%2d. #%d %q %.3f\n", i+1, t.Index, t.Piece, t.Score)
	}
	if gran == h2o.PerHead {
		// per-head eviction ranks each (layer, head) by its own row
		fmt.Printf("\ntop %d per (layer, head), as per-head eviction ranks them (token #index):\n", min(c.Int("top"), len(out)))
		for l := 0; l < sc.NLayer; l++ {
			for h := 0; h < sc.NHead; h++ {
				sort.SliceStable(ranked, func(a, b int) bool { return ranked[a].PerHead[l][h] > ranked[b].PerHead[l][h] })
				var b strings.Builder
				for _, t := range ranked[:min(c.Int("top"), len(ranked))] {
					fmt.Fprintf(&b, " #%d", t.Index)
				}
				fmt.Printf("L%d H%d:%s\n", l, h, b.String())
			}
		}
	}
	return nil
}
