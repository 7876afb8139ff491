package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/session"
)

// ParallelTest is the paper's throughput setting: N sequences each read a
// prompt of Prompt tokens, then generate Gen tokens together.
type ParallelTest struct {
	N, Prompt, Gen int
}

func (t ParallelTest) String() string {
	return fmt.Sprintf("np%d pp%d+tg%d", t.N, t.Prompt, t.Gen)
}

// ParallelResult is one batched measurement.
type ParallelResult struct {
	Test        ParallelTest
	Mode        string
	PrefillTPS  float64 // prompt tokens of all sequences per second
	DecodeTPS   float64 // generated tokens of all sequences per second (aggregate)
	CellsPerSeq int
	KVBytes     int64  // KV cache of all sequences
	PeakVRAM    uint64 // largest GPU memory in use seen during the run (0 without a GPU)
	DecodeSteps int
	Ops         []binding.OpTime // the decode steps' graph nodes, when opts.Profile is set
	Err         error
}

// RunParallel measures one batched test: all prompts are read first (timed
// apart), then every sequence generates Gen tokens, one token of each per
// decode, end-of-generation ignored. A full cache gets Prompt+Gen cells per
// sequence unless opts.NCtx says otherwise. Cancelling ctx ends it between
// two steps with session.ErrInterrupted.
func RunParallel(ctx context.Context, m *binding.Model, opts session.Options, t ParallelTest, seed uint64, progress io.Writer) ParallelResult {
	res := ParallelResult{Test: t, Mode: opts.Policy.String()}
	if !opts.Policy.Evicts() && opts.NCtx == 0 {
		opts.NCtx = t.Prompt + t.Gen
	}
	b, err := session.NewBatcher(m, opts, t.N)
	if err != nil {
		res.Err = err
		return res
	}
	defer b.Close()
	res.Mode = b.Options().Resolved().String()
	res.CellsPerSeq = b.CellsPerSequence()
	res.KVBytes = int64(t.N) * session.KVBytes(m.Info(), res.CellsPerSeq, b.Options().TypeK, b.Options().TypeV)
	rng := rand.New(rand.NewPCG(seed, 2))
	nv := m.Info().NVocab
	for i := 0; i < t.N; i++ {
		prompt := make([]int32, t.Prompt)
		for k := range prompt {
			prompt[k] = int32(3 + rng.IntN(nv-3))
		}
		if res.Err = b.Start(session.Request{ID: i, Prompt: prompt, Gen: session.GenOptions{MaxTokens: t.Gen, TextOnly: true, IgnoreEOS: true}}); res.Err != nil {
			return res
		}
	}
	peak := func() { res.PeakVRAM = max(res.PeakVRAM, gpuUsed()) }
	last := time.Now()
	report := func(phase string, start time.Time, st0 session.BatchStats, force bool) {
		if progress == nil || (!force && time.Since(last) < 10*time.Second) {
			return
		}
		last = time.Now()
		st := b.Stats()
		steps := st.Steps - st0.Steps
		ms := func(d time.Duration) float64 { return msPer(d, steps) }
		fmt.Fprintf(progress, "bench: %s %s: %s, %d steps, %d prompt + %d generated tokens, %.1f t/s; per step %.2f ms: decode %.2f, batch %.2f, logits %.2f, policy %.2f\n",
			res.Mode, t, phase, steps, st.PromptTokens-st0.PromptTokens, st.GenTokens-st0.GenTokens,
			float64(st.PromptTokens-st0.PromptTokens+st.GenTokens-st0.GenTokens)/time.Since(start).Seconds(),
			ms(st.Elapsed-st0.Elapsed), ms(st.DecodeTime-st0.DecodeTime), ms(st.BatchTime-st0.BatchTime),
			ms(st.LogitsTime-st0.LogitsTime), ms(st.PolicyTime-st0.PolicyTime))
	}
	// phase steps the batcher while pending() > 0 (prefill: prompts only)
	// and returns the time it took, the device's queue drained.
	phase := func(name string, prefill bool, pending func() int) (time.Duration, error) {
		start, st0 := time.Now(), b.Stats()
		for steps := 0; pending() > 0; steps++ {
			if ctx.Err() != nil {
				return 0, session.ErrInterrupted
			}
			done, err := b.Step(prefill)
			if err != nil {
				return 0, err
			}
			for _, d := range done {
				if d.Err != nil {
					return 0, d.Err
				}
			}
			if steps%64 == 0 {
				peak()
			}
			report(name, start, st0, false)
		}
		report(name, start, st0, true)
		b.Context().Synchronize()
		return time.Since(start), nil
	}
	took, err := phase("prefill", true, b.Prefilling)
	if res.Err = err; err != nil {
		return res
	}
	res.PrefillTPS = float64(t.N*t.Prompt) / took.Seconds()
	peak()
	if opts.Profile != nil {
		opts.Profile.Reset()
	}
	st0 := b.Stats()
	if took, res.Err = phase("decode", false, b.Active); res.Err != nil {
		return res
	}
	res.DecodeTPS = float64(b.Stats().GenTokens-st0.GenTokens) / took.Seconds()
	res.DecodeSteps = b.Stats().Steps - st0.Steps
	if opts.Profile != nil {
		res.Ops = opts.Profile.Ops()
	}
	peak()
	return res
}

// WriteOpProfile prints where a decode step's graph time goes: each kind of
// node's count and milliseconds per step, the largest first.
func WriteOpProfile(w io.Writer, r ParallelResult) {
	if r.DecodeSteps == 0 || len(r.Ops) == 0 {
		return
	}
	var total time.Duration
	for _, o := range r.Ops {
		total += o.Time
	}
	steps := float64(r.DecodeSteps)
	fmt.Fprintf(w, "\nop profile: %s %s, %d decode steps, %.2f ms of graph nodes per step (each node run alone)\n", r.Mode, r.Test, r.DecodeSteps, msPer(total, r.DecodeSteps))
	fmt.Fprintln(w, "| node | per step | ms/step | share |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: |")
	for _, o := range r.Ops {
		fmt.Fprintf(w, "| %s | %.1f | %.3f | %.1f%% |\n", o.Key, float64(o.Count)/steps, msPer(o.Time, r.DecodeSteps), 100*o.Time.Seconds()/total.Seconds())
	}
}

func msPer(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return d.Seconds() * 1000 / float64(n)
}

// WriteParallelMarkdown prints the batched results, llama-bench style, with
// each mode's best aggregate decode speed marked and compared to full's.
func WriteParallelMarkdown(w io.Writer, env Env, rows []ParallelResult) {
	fmt.Fprintln(w, "| model | backend | ngl | mode | test | KV cells/seq | KV GiB | peak VRAM GiB | prefill t/s | decode t/s (all sequences) |")
	fmt.Fprintln(w, "| --- | --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |")
	best := map[string]float64{}
	for _, r := range rows {
		if r.Err == nil {
			best[r.Mode] = max(best[r.Mode], r.DecodeTPS)
		}
	}
	for _, r := range rows {
		decode := fmt.Sprintf("%.1f", r.DecodeTPS)
		prefill := fmt.Sprintf("%.1f", r.PrefillTPS)
		if r.Err != nil {
			decode, prefill = "failed: "+firstLine(r.Err.Error()), "-"
		} else if r.DecodeTPS == best[r.Mode] {
			decode = "**" + decode + "**"
		}
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %d | %.2f | %.2f | %s | %s |\n", env.Model, env.Backend, env.NGL, r.Mode, r.Test,
			r.CellsPerSeq, float64(r.KVBytes)/(1<<30), float64(r.PeakVRAM)/(1<<30), prefill, decode)
	}
	var full float64
	for mode, v := range best {
		if strings.HasPrefix(mode, "full") {
			full = max(full, v)
		}
	}
	if full > 0 {
		fmt.Fprintln(w)
		for _, mode := range slices.Sorted(maps.Keys(best)) {
			if !strings.HasPrefix(mode, "full") {
				fmt.Fprintf(w, "best %s / best full: %.2fx\n", mode, best[mode]/full)
			}
		}
	}
	if env.Weights != "" {
		fmt.Fprintf(w, "\n%s\n", env.Weights)
	}
}

// WriteParallelJSON prints one JSON object per batched result.
func WriteParallelJSON(w io.Writer, env Env, rows []ParallelResult) error {
	enc := json.NewEncoder(w)
	for _, r := range rows {
		row := struct {
			Env
			Mode        string  `json:"mode"`
			N           int     `json:"n_parallel"`
			Prompt      int     `json:"n_prompt"`
			Gen         int     `json:"n_gen"`
			PrefillTPS  float64 `json:"prefill_ts"`
			DecodeTPS   float64 `json:"decode_ts"`
			CellsPerSeq int     `json:"kv_cells_per_seq"`
			KVBytes     int64   `json:"kv_bytes"`
			PeakVRAM    uint64  `json:"peak_vram_bytes"`
			Error       string  `json:"error,omitempty"`
		}{Env: env, Mode: r.Mode, N: r.Test.N, Prompt: r.Test.Prompt, Gen: r.Test.Gen, PrefillTPS: r.PrefillTPS, DecodeTPS: r.DecodeTPS,
			CellsPerSeq: r.CellsPerSeq, KVBytes: r.KVBytes, PeakVRAM: r.PeakVRAM}
		if r.Err != nil {
			row.Error = r.Err.Error()
		}
		if err := enc.Encode(row); err != nil {
			return err
		}
	}
	return nil
}
