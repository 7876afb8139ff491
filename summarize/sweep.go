package summarize

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Budget is one column of a sweep: a KV budget in tokens, or the full cache.
type Budget struct {
	Tokens int // 0 for the full cache
}

// Full reports whether the budget is the full (non-evicting) cache.
func (b Budget) Full() bool { return b.Tokens == 0 }

func (b Budget) String() string {
	if b.Full() {
		return "full"
	}
	return strconv.Itoa(b.Tokens)
}

// ParseBudgets reads a list such as "64,128,256,512,1024,full".
func ParseBudgets(s string) ([]Budget, error) {
	var out []Budget
	seen := map[Budget]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		var b Budget
		if !strings.EqualFold(f, "full") {
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("kv budget %q: want a positive number of tokens or \"full\"", f)
			}
			b.Tokens = n
		}
		if seen[b] {
			return nil, fmt.Errorf("kv budget %s listed twice", b)
		}
		seen[b] = true
		out = append(out, b)
	}
	return out, nil
}

// BudgetPath is the output file of one budget: out.jsonl -> out.b64.jsonl.
func BudgetPath(path string, b Budget) string {
	if path == "" {
		return ""
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + ".b" + b.String() + ext
}

// Cell is one budget's result in the sweep table.
type Cell struct {
	Budget  Budget
	Summary *Summary // may be partial when Err is set
	Err     error
}

// Table is the recipe's results table: a markdown row per model, a column
// per budget, ROUGE-2 (six decimals). A failed budget shows "failed", and a
// budget whose prompts were truncated is marked; numbered notes under the
// table explain both.
func Table(model string, cells []Cell) string {
	var b strings.Builder
	b.WriteString("| model |")
	for _, c := range cells {
		fmt.Fprintf(&b, " %s |", c.Budget)
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|", len(cells)))
	fmt.Fprintf(&b, "\n| %s |", model)
	var notes []string
	for _, c := range cells {
		cell, note := tableCell(c)
		if note != "" {
			notes = append(notes, fmt.Sprintf("[%d] %s: %s", len(notes)+1, c.Budget, note))
			cell += fmt.Sprintf(" [%d]", len(notes))
		}
		fmt.Fprintf(&b, " %s |", cell)
	}
	b.WriteString("\n")
	for _, n := range notes {
		b.WriteString("\n" + n)
	}
	if len(notes) > 0 {
		b.WriteString("\n")
	}
	return b.String()
}

// tableCell is a cell's text and the note it needs: why it failed (with the
// ROUGE-2 of the samples done before), or how many prompts were truncated.
func tableCell(c Cell) (string, string) {
	s := c.Summary
	done := s != nil && s.Avg.N() > 0
	switch {
	case c.Err != nil && done:
		return "failed", fmt.Sprintf("%v (ROUGE-2 %.6f over the %d samples done before)", c.Err, s.Avg.Rouge2(), s.Avg.N())
	case c.Err != nil:
		return "failed", c.Err.Error()
	case !done:
		return "-", ""
	case s.Truncated > 0:
		return fmt.Sprintf("%.6f", s.Avg.Rouge2()), fmt.Sprintf("%d of %d prompts truncated to fit the context (--truncate)", s.Truncated, s.Samples)
	}
	return fmt.Sprintf("%.6f", s.Avg.Rouge2()), ""
}
