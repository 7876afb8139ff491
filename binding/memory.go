package binding

/*
#include "glue.h"
*/
import "C"

// KV memory operations of one sequence. Positions are half-open ranges
// [p0, p1); p1 < 0 means "to the end". A sequence with its own KV stream
// (NSeqMax > 1, not Unified) touches only that stream's cells: RemoveRange
// and ShiftRange of different sequences may then run concurrently, with
// each other and with CellsInto, while nothing decodes.

// RemoveRange removes the cells of seq with positions in [p0, p1).
func (c *Context) RemoveRange(seq int32, p0, p1 int32) bool {
	return bool(C.llama_memory_seq_rm(C.llama_get_memory(c.c), C.llama_seq_id(seq), C.llama_pos(p0), C.llama_pos(p1)))
}

// ShiftRange adds delta to the positions in [p0, p1) of seq; keys are
// re-rotated (RoPE) at the next Decode.
func (c *Context) ShiftRange(seq int32, p0, p1, delta int32) {
	C.llama_memory_seq_add(C.llama_get_memory(c.c), C.llama_seq_id(seq), C.llama_pos(p0), C.llama_pos(p1), C.llama_pos(delta))
}

// PosMin is the smallest position of seq in the cache (-1 if none).
func (c *Context) PosMin(seq int32) int32 {
	return int32(C.llama_memory_seq_pos_min(C.llama_get_memory(c.c), C.llama_seq_id(seq)))
}

// PosMax is the largest position of seq in the cache (-1 if none).
func (c *Context) PosMax(seq int32) int32 {
	return int32(C.llama_memory_seq_pos_max(C.llama_get_memory(c.c), C.llama_seq_id(seq)))
}

// ClearMemory empties the KV cache.
func (c *Context) ClearMemory() { C.llama_memory_clear(C.llama_get_memory(c.c), true) }

// CanShift reports whether positions can be shifted (RoPE models).
func (c *Context) CanShift() bool { return bool(C.llama_memory_can_shift(C.llama_get_memory(c.c))) }
