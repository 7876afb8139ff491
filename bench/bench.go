// Package bench measures prompt and generation speed and KV memory of a
// session under each cache policy, in llama-bench's terms: ppN (prompt of N
// tokens) and tgN @ dD (N generated tokens after D tokens of context).
package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/session"
)

// Test is one measurement: a prompt of Prompt tokens or Gen generated tokens,
// after Depth tokens already in the cache.
type Test struct {
	Prompt, Gen, Depth int
}

func (t Test) String() string {
	s := fmt.Sprintf("pp%d", t.Prompt)
	if t.Gen > 0 {
		s = fmt.Sprintf("tg%d", t.Gen)
	}
	if t.Depth > 0 {
		s += fmt.Sprintf(" @ d%d", t.Depth)
	}
	return s
}

// Result is a test's speed over repetitions and the memory it needed.
type Result struct {
	Test       Test
	Mode       string // the policy, e.g. "full" or "h2o B=2048"
	TPS        []float64
	KVBytes    int64  // KV cache allocated (cells x bytes per cell)
	CacheCells int    // KV cells allocated
	CacheUsed  int    // tokens in the cache at the end
	VRAMBytes  uint64 // GPU memory in use at the end of the test (0 without a GPU)
	// Decodes and GraphsReused count the timed decodes of the last
	// repetition and those that reused the previous decode's graph (a
	// rebuilt graph costs host time and, on CUDA, a new graph capture).
	Decodes, GraphsReused int
	Err                   error // e.g. the full cache ran out of cells
}

// Mean and Std of the tokens-per-second samples.
func (r Result) Mean() float64 { m, _ := meanStd(r.TPS); return m }

// Std is the sample standard deviation.
func (r Result) Std() float64 { _, s := meanStd(r.TPS); return s }

func meanStd(v []float64) (float64, float64) {
	if len(v) == 0 {
		return 0, 0
	}
	m := 0.0
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	if len(v) < 2 {
		return m, 0
	}
	s := 0.0
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return m, math.Sqrt(s / float64(len(v)-1))
}

// Run measures one test under the given session options, reps times.
// The cache is filled with Depth random tokens (through the policy, so an
// evicting cache holds only its budget), then the test runs. Cancelling ctx
// ends it between two decodes with session.ErrInterrupted.
func Run(ctx context.Context, m *binding.Model, opts session.Options, t Test, reps int, seed uint64) Result {
	res := Result{Test: t, Mode: opts.Policy.String()}
	if !opts.Policy.Evicts() && opts.NCtx == 0 {
		opts.NCtx = t.Depth + t.Prompt + t.Gen + 1
	}
	s, err := session.New(m, opts)
	if err != nil {
		res.Err = err
		return res
	}
	defer s.Close()
	s.SetFeedProgress(func(int, int) bool { return ctx.Err() == nil })
	res.Mode = s.Options().Resolved().String()
	if opts.Scores != binding.ScoresOff && !s.Options().Resolved().NeedsScores() {
		res.Mode += " +scores" // the patch's collection alone, nothing reads it
	}
	if opts.FlashAttn != "" && opts.FlashAttn != "auto" {
		res.Mode += " fa=" + opts.FlashAttn
	}
	if opts.HostHeads && opts.Policy.Granularity == h2o.PerHead {
		res.Mode += " heads=host"
	}
	res.CacheCells = s.Context().NCtx()
	res.KVBytes = session.KVBytes(m.Info(), res.CacheCells, s.Options().TypeK, s.Options().TypeV)
	rng := rand.New(rand.NewPCG(seed, 1))
	nv := m.Info().NVocab
	randomTokens := func(n int) []int32 {
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(3 + rng.IntN(nv-3))
		}
		return out
	}
	for r := 0; r < reps; r++ {
		s.Reset()
		if t.Depth > 0 {
			if res.Err = s.Feed(randomTokens(t.Depth)); res.Err != nil {
				return res
			}
		}
		s.Context().Synchronize()
		s.Context().ResetPerf()
		var n int
		start := time.Now()
		if t.Gen > 0 {
			for i, tok := range randomTokens(t.Gen) {
				if ctx.Err() != nil {
					res.Err = session.ErrInterrupted
					return res
				}
				if res.Err = s.Step(tok); res.Err != nil {
					return res
				}
				n = i + 1
			}
		} else {
			if res.Err = s.Feed(randomTokens(t.Prompt)); res.Err != nil {
				return res
			}
			n = t.Prompt
		}
		s.Context().Synchronize()
		res.TPS = append(res.TPS, float64(n)/time.Since(start).Seconds())
		p := s.Context().Perf()
		res.Decodes, res.GraphsReused = p.EvalTokens+p.PromptTokens, p.GraphsReused
	}
	res.CacheUsed = s.CacheLen()
	res.VRAMBytes = gpuUsed()
	return res
}

func gpuUsed() uint64 {
	var used uint64
	for _, d := range binding.Devices() {
		if d.Type == binding.DeviceGPU {
			used += d.TotalBytes - d.FreeBytes
		}
	}
	return used
}
