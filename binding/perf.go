package binding

/*
#include "glue.h"
*/
import "C"

// Perf are llama.cpp's timing counters of a context.
type Perf struct {
	PromptMs     float64
	PromptTokens int
	EvalMs       float64
	EvalTokens   int
	// GraphsReused counts decodes that reused the previous decode's graph
	// (no graph rebuild; on CUDA the captured graph can replay).
	GraphsReused int
}

// Perf returns the counters since creation or the last ResetPerf.
func (c *Context) Perf() Perf {
	d := C.llama_perf_context(c.c)
	return Perf{PromptMs: float64(d.t_p_eval_ms), PromptTokens: int(d.n_p_eval), EvalMs: float64(d.t_eval_ms), EvalTokens: int(d.n_eval), GraphsReused: int(d.n_reused)}
}

// ResetPerf zeroes the counters.
func (c *Context) ResetPerf() { C.llama_perf_context_reset(c.c) }
