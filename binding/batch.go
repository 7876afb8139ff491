package binding

/*
#include "glue.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// Batch is a reusable llama_batch: fill it with Add, give it to Decode.
type Batch struct {
	c   C.struct_llama_batch
	cap int
}

// NewBatch allocates a batch for up to capacity tokens (one sequence id each).
func NewBatch(capacity int) *Batch {
	b := &Batch{c: C.llama_batch_init(C.int32_t(capacity), 0, 1), cap: capacity}
	runtime.SetFinalizer(b, (*Batch).Close)
	return b
}

// Close frees the batch. Safe to call twice.
func (b *Batch) Close() error {
	if b == nil || b.c.token == nil {
		return nil
	}
	C.llama_batch_free(b.c)
	b.c = C.struct_llama_batch{}
	runtime.SetFinalizer(b, nil)
	return nil
}

// Len is the number of tokens in the batch.
func (b *Batch) Len() int { return int(b.c.n_tokens) }

// Cap is the batch capacity.
func (b *Batch) Cap() int { return b.cap }

// Outputs is the number of tokens that asked for logits.
func (b *Batch) Outputs() int {
	n := 0
	for _, l := range unsafe.Slice(b.c.logits, b.cap)[:b.Len()] {
		if l != 0 {
			n++
		}
	}
	return n
}

// Clear empties the batch.
func (b *Batch) Clear() { b.c.n_tokens = 0 }

// Add appends a token at position pos of sequence seq; logits asks for its output.
// It panics past capacity (a programming error).
func (b *Batch) Add(t Token, pos int32, seq int32, logits bool) {
	i := int(b.c.n_tokens)
	if i >= b.cap {
		panic("binding: batch full")
	}
	unsafe.Slice(b.c.token, b.cap)[i] = C.llama_token(t)
	unsafe.Slice(b.c.pos, b.cap)[i] = C.llama_pos(pos)
	unsafe.Slice(b.c.n_seq_id, b.cap)[i] = 1
	*unsafe.Slice(b.c.seq_id, b.cap)[i] = C.llama_seq_id(seq)
	var l C.int8_t
	if logits {
		l = 1
	}
	unsafe.Slice(b.c.logits, b.cap)[i] = l
	b.c.n_tokens++
}
