package h2o

// Attention is one decode step's attention as the llama.cpp patch reports it:
// Data[(layer*NHead + head)*NCells + cell] is the probability mass that KV
// cell received from the step's query tokens. Cells [NKV, NCells) are unused.
type Attention struct {
	NLayer, NHead, NCells, NKV int
	Data                       []float32
}

// StepScores turns a step's attention into one score per cached entry.
// cellEntry[j] is the entry index held by cell j, or -1 for a cell of no
// interest (empty, another sequence). out is reused when large enough.
func StepScores(att Attention, cellEntry []int, nEntries int, agg Aggregate, out []float64) []float64 {
	if cap(out) < nEntries {
		out = make([]float64, nEntries)
	}
	out = out[:nEntries]
	clear(out)
	nkv := min(att.NKV, len(cellEntry))
	rows := att.NLayer * att.NHead
	for r := 0; r < rows; r++ {
		row := att.Data[r*att.NCells : r*att.NCells+nkv]
		if agg == AggSum {
			for j, v := range row {
				if e := cellEntry[j]; e >= 0 {
					out[e] += float64(v)
				}
			}
			continue
		}
		total := 0.0
		for j, v := range row {
			if cellEntry[j] >= 0 {
				total += float64(v)
			}
		}
		if total == 0 {
			continue
		}
		switch agg {
		case AggLayerMean:
			w := 1 / (total * float64(rows))
			for j, v := range row {
				if e := cellEntry[j]; e >= 0 {
					out[e] += float64(v) * w
				}
			}
		case AggMax:
			for j, v := range row {
				if e := cellEntry[j]; e >= 0 {
					out[e] = max(out[e], float64(v)/total)
				}
			}
		}
	}
	return out
}
