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
}

// Perf returns the counters since creation or the last ResetPerf.
func (c *Context) Perf() Perf {
	d := C.llama_perf_context(c.c)
	return Perf{PromptMs: float64(d.t_p_eval_ms), PromptTokens: int(d.n_p_eval), EvalMs: float64(d.t_eval_ms), EvalTokens: int(d.n_eval)}
}

// ResetPerf zeroes the counters.
func (c *Context) ResetPerf() { C.llama_perf_context_reset(c.c) }
