package binding

/*
#include "glue.h"
*/
import "C"

import (
	"cmp"
	"slices"
	"time"
	"unsafe"
)

// OpProfile times every node of the graphs a context computes, through
// llama.cpp's eval callback: the scheduler then runs each node alone and
// waits for it, so a node's time is its kernel plus one launch and sync
// (decoding is slower while it is on). It is a tool to find where a decode
// step's time goes, not a speed measurement.
type OpProfile struct {
	c *C.h2o_opprof
}

// OpTime is the time of the nodes of one kind: "<op> <tensor name>" with the
// layer suffix dropped (e.g. "MUL_MAT ffn_up"), summed over layers.
type OpTime struct {
	Key   string
	Count int
	Time  time.Duration
}

// NewOpProfile allocates an empty profile; pass it in ContextParams.Profile.
func NewOpProfile() *OpProfile {
	return &OpProfile{c: C.h2o_opprof_new()}
}

// Close frees the profile (after the context using it is closed).
func (p *OpProfile) Close() {
	if p != nil && p.c != nil {
		C.h2o_opprof_free(p.c)
		p.c = nil
	}
}

// Reset forgets the times so far.
func (p *OpProfile) Reset() {
	clear(unsafe.Slice(&p.c.e[0], int(p.c.n)))
	p.c.n = 0
}

// Ops are the times so far, the largest first.
func (p *OpProfile) Ops() []OpTime {
	entries := unsafe.Slice(&p.c.e[0], int(p.c.n))
	out := make([]OpTime, len(entries))
	for i, e := range entries {
		out[i] = OpTime{Key: C.GoString(&e.key[0]), Count: int(e.count), Time: time.Duration(float64(e.ms) * float64(time.Millisecond))}
	}
	slices.SortFunc(out, func(a, b OpTime) int { return cmp.Compare(b.Time, a.Time) })
	return out
}
