package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/h2o-kv/h2o/h2o"
)

// Record is one (policy, budget) line of a report, as written by -o json.
// Pointers are null where there is no value (no full-cache run, or no
// prediction within the trained context for KL).
type Record struct {
	Policy      string        `json:"policy"`
	Budget      int           `json:"budget"` // the full cache repeats its numbers for every budget
	Heavy       int           `json:"heavy"`
	Recent      int           `json:"recent"`
	Sink        int           `json:"sink"`
	Rolling     bool          `json:"rolling"`
	Score       string        `json:"score"`
	Aggregate   string        `json:"aggregate"`
	Granularity string        `json:"granularity"` // token or head (h2o)
	Prompt      string        `json:"prompt"`      // the prompt rule: none or snapkv:W
	Docs        int           `json:"docs"`
	Tokens      int           `json:"tokens"`
	NLL         float64       `json:"nll"`
	PPL         float64       `json:"ppl"`
	DeltaPPL    *float64      `json:"delta_ppl_pct"` // (ppl / full ppl - 1) * 100
	KL          *float64      `json:"kl"`            // mean KL(full || policy), nats
	Top1        *float64      `json:"top1"`          // share of top-1 agreement with the full cache
	KLTokens    int           `json:"kl_tokens"`
	Evictions   int64         `json:"evictions"`
	PastTrained bool          `json:"past_trained"`
	Seconds     float64       `json:"seconds"`
	TokensPerS  float64       `json:"tokens_per_s"`
	Chunks      []ChunkRecord `json:"chunks,omitempty"`
}

// ChunkRecord is the perplexity of one window of token indices.
type ChunkRecord struct {
	Start  int     `json:"start"`
	End    int     `json:"end"`
	Tokens int     `json:"tokens"`
	PPL    float64 `json:"ppl"`
}

// Records turns results into report lines. A full-cache result is repeated
// for every budget in budgets (one record per (policy, budget)).
func Records(results []Result, budgets []int) []Record {
	var full *Result
	for i := range results {
		if !results[i].Config.Evicts() {
			full = &results[i]
			break
		}
	}
	var out []Record
	for _, r := range results {
		rec := record(r, full)
		if r.Config.Evicts() || len(budgets) == 0 {
			out = append(out, rec)
			continue
		}
		for _, b := range budgets {
			rec.Budget = b
			out = append(out, rec)
		}
	}
	return out
}

func record(r Result, full *Result) Record {
	c := r.Config
	rec := Record{
		Policy: string(c.Name()), Budget: c.Budget, Rolling: c.Rolling, Prompt: c.Prompt.String(),
		Score: c.Score.String(), Aggregate: string(c.Aggregate), Granularity: string(c.Granularity),
		Docs: r.Docs, Tokens: r.Tokens, NLL: r.NLL, PPL: r.PPL(), KLTokens: r.KLTokens,
		Evictions: r.Evictions, PastTrained: r.PastTrained,
		Seconds: r.Elapsed.Seconds(), TokensPerS: r.TokensPerSecond(),
	}
	if c.Evicts() {
		rec.Recent, rec.Sink = c.Recent, c.SinkTokens
		rec.Heavy = c.HeavyHitters
	} else {
		rec.Budget = 0
	}
	if full != nil {
		d := (r.PPL()/full.PPL() - 1) * 100
		rec.DeltaPPL = &d
	}
	if v, ok := r.KL(); ok {
		rec.KL = &v
	}
	if v, ok := r.Top1(); ok {
		rec.Top1 = &v
	}
	for _, ch := range r.Chunks {
		rec.Chunks = append(rec.Chunks, ChunkRecord{Start: ch.Start, End: ch.End, Tokens: ch.Tokens, PPL: ch.PPL()})
	}
	return rec
}

// WriteJSON writes the records as an indented JSON array.
func WriteJSON(w io.Writer, recs []Record) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(recs)
}

// Meta describes an evaluation for the Markdown report's header.
type Meta struct {
	Model     string
	Trained   int // the model's trained context
	Docs      []Doc
	MaxTokens int
	Threads   int
	Parallel  int
}

// WriteMarkdown writes the main table (the full cache once, then each budget
// with its policies) and, when the results have chunks, the per-window table.
func WriteMarkdown(w io.Writer, recs []Record, m Meta) error {
	var b strings.Builder
	scored, total := 0, 0
	for _, d := range m.Docs {
		scored += d.Scored()
		total += len(d.Tokens)
	}
	meanLen := float64(total) / float64(max(len(m.Docs), 1))
	fmt.Fprintf(&b, "Model `%s` (trained context %d); %d documents, %d tokens scored (mean document length %.0f tokens", m.Model, m.Trained, len(m.Docs), scored, meanLen)
	if m.MaxTokens > 0 {
		fmt.Fprintf(&b, ", cut at %d", m.MaxTokens)
	}
	b.WriteString(")")
	if m.Threads > 0 {
		fmt.Fprintf(&b, "; %d thread(s) per session, %d session(s) at once", m.Threads, max(m.Parallel, 1))
	}
	b.WriteString(".\n")
	klTokens := 0
	for _, r := range recs {
		klTokens = max(klTokens, r.KLTokens)
	}
	if klTokens > 0 && klTokens < scored {
		fmt.Fprintf(&b, "KL and top-1 cover only the %d predictions within the trained context (the full cache is no reference beyond it).\n", klTokens)
	}
	b.WriteString("\n| policy | budget | B/len | split | rolling | score/agg | ppl | Δppl vs full | KL (nats) | top-1 | tok/s |\n")
	b.WriteString("|---|---:|---:|---|---|---|---:|---:|---:|---:|---:|\n")
	rows := tableOrder(recs)
	for _, r := range rows {
		budget, frac, split, rolling, sa := "all", "100%", "—", "—", "—"
		policy := r.Policy
		if r.Prompt != "" && r.Prompt != "none" {
			policy += " (" + r.Prompt + " prompt)"
		}
		if r.Policy != string(h2o.Full) {
			budget = fmt.Sprint(r.Budget)
			frac = fmt.Sprintf("%.1f%%", 100*float64(r.Budget)/meanLen)
			split = splitOf(r)
			rolling = onOff(r.Rolling)
			if r.Policy == string(h2o.H2O) {
				sa = r.Score + "/" + r.Aggregate
				if r.Granularity == string(h2o.PerHead) {
					sa = r.Score + "/per-head"
				}
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %.3f | %s | %s | %s | %.0f |\n", policy, budget, frac, split, rolling, sa,
			r.PPL, pct(r.DeltaPPL), num(r.KL, "%.4f"), num(r.Top1, "%.3f"), r.TokensPerS)
	}
	if len(rows) > 0 && len(rows[0].Chunks) > 0 {
		b.WriteString("\nPerplexity per window of token indices (all documents pooled):\n\n| policy | budget | rolling |")
		for _, c := range rows[0].Chunks {
			fmt.Fprintf(&b, " %d–%d |", c.Start, c.End-1)
		}
		b.WriteString("\n|---|---:|---|" + strings.Repeat("---:|", len(rows[0].Chunks)) + "\n")
		for _, r := range rows {
			budget, rolling := "all", "—"
			if r.Policy != string(h2o.Full) {
				budget, rolling = fmt.Sprint(r.Budget), onOff(r.Rolling)
			}
			fmt.Fprintf(&b, "| %s | %s | %s |", r.Policy, budget, rolling)
			for _, c := range r.Chunks {
				fmt.Fprintf(&b, " %.3f |", c.PPL)
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// tableOrder lists the full cache once, then the other records by budget,
// keeping their order within a budget.
func tableOrder(recs []Record) []Record {
	var out, rest []Record
	seenFull := false
	for _, r := range recs {
		if r.Policy == string(h2o.Full) {
			if !seenFull {
				out = append(out, r)
				seenFull = true
			}
			continue
		}
		rest = append(rest, r)
	}
	var budgets []int
	for _, r := range rest {
		if !slices.Contains(budgets, r.Budget) {
			budgets = append(budgets, r.Budget)
		}
	}
	slices.Sort(budgets)
	for _, bud := range budgets {
		for _, r := range rest {
			if r.Budget == bud {
				out = append(out, r)
			}
		}
	}
	return out
}

func splitOf(r Record) string {
	switch r.Policy {
	case string(h2o.H2O), string(h2o.TOVA), string(h2o.Knorm), string(h2o.KeyDiff):
		s := fmt.Sprintf("H%d+R%d", r.Heavy, r.Recent)
		if r.Sink > 0 {
			s += fmt.Sprintf(" (first %d kept)", r.Sink)
		}
		return s
	case string(h2o.Sink):
		return fmt.Sprintf("S%d+R%d", r.Sink, r.Recent)
	}
	if r.Sink > 0 {
		return fmt.Sprintf("S%d+R%d", r.Sink, r.Recent)
	}
	return fmt.Sprintf("R%d", r.Recent)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func pct(v *float64) string {
	if v == nil || math.IsNaN(*v) {
		return "—"
	}
	return fmt.Sprintf("%+.2f%%", *v)
}

func num(v *float64, f string) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf(f, *v)
}
