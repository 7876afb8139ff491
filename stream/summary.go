package stream

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// loopSummary aggregates the samples of one loop (or all of them).
type loopSummary struct {
	name                string
	samples, planned    int
	prompt, gen         int
	seen                int64
	cachePeak, budget   int
	evictions           int64
	prefillTok          float64
	prefillSec          float64
	decodeTok           float64
	decodeSec           float64
	rss, vram, vramTot  int64
	eos, length, failed int
}

func (s *loopSummary) add(r Record, evictionsBefore int64) {
	s.samples++
	s.prompt += r.PromptTokens
	s.gen += r.GenTokens
	s.seen = r.Seen
	s.cachePeak = max(s.cachePeak, r.CachePeak)
	s.budget = r.Budget
	s.evictions += r.Evictions - evictionsBefore
	s.prefillTok += r.PrefillTPS * r.PrefillSec
	s.prefillSec += r.PrefillSec
	s.decodeTok += r.DecodeTPS * r.DecodeSec
	s.decodeSec += r.DecodeSec
	s.rss = max(s.rss, r.RSS)
	s.vram = max(s.vram, r.VRAM)
	s.vramTot = max(s.vramTot, r.VRAMTotal)
	switch r.Finish {
	case "eos":
		s.eos++
	case "length":
		s.length++
	default:
		s.failed++
	}
}

// WriteSummary prints the table of a run: one row per loop and a total
// (t/s are totals over time, not means of per-sample rates).
func WriteSummary(w io.Writer, res Result) error {
	perLoop := max(res.Total/max(res.Loops, 1), 1)
	var loops []*loopSummary
	all := &loopSummary{name: "all", planned: res.Total}
	var ev int64
	for _, r := range res.Records {
		if len(loops) < r.Loop {
			loops = append(loops, &loopSummary{name: fmt.Sprint(r.Loop), planned: perLoop})
		}
		loops[r.Loop-1].add(r, ev)
		all.add(r, ev)
		ev = r.Evictions
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "loop\tsamples\teos/len/err\tprompt\tgenerated\tseen\tcache peak/budget\tevicted\tprefill t/s\tdecode t/s\tRSS max\tVRAM max\t")
	rows := loops
	if len(loops) != 1 {
		rows = append(rows, all)
	}
	for _, s := range rows {
		vram := "-"
		if s.vramTot > 0 {
			vram = bytesString(s.vram) + "/" + bytesString(s.vramTot)
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%d/%d/%d\t%d\t%d\t%d\t%d/%d\t%d\t%.1f\t%.1f\t%s\t%s\t\n",
			s.name, s.samples, s.planned, s.eos, s.length, s.failed, s.prompt, s.gen, s.seen, s.cachePeak, s.budget,
			s.evictions, ratio(s.prefillTok, s.prefillSec), ratio(s.decodeTok, s.decodeSec), bytesString(s.rss), vram)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "wall time %s\n", res.Wall.Round(time.Millisecond))
	return err
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}
