package binding

/*
#include "glue.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// HeadMoves is a batch of per-(layer, KV head) row moves, as parallel slices
// (reused by the caller from step to step). Move i carries the K and V rows of
// head Head[i] of layer Layer[i] from cell Src[i] to cell Dst[i] and
// re-rotates the key by Delta[i] positions.
type HeadMoves struct {
	Layer, Head, Src, Dst, Delta []int32
}

// Len is the number of moves.
func (m *HeadMoves) Len() int { return len(m.Src) }

// Reset empties the batch, keeping its memory.
func (m *HeadMoves) Reset() {
	m.Layer, m.Head, m.Src, m.Dst, m.Delta = m.Layer[:0], m.Head[:0], m.Src[:0], m.Dst[:0], m.Delta[:0]
}

// Add appends one move.
func (m *HeadMoves) Add(layer, head, src, dst, delta int32) {
	m.Layer = append(m.Layer, layer)
	m.Head = append(m.Head, head)
	m.Src = append(m.Src, src)
	m.Dst = append(m.Dst, dst)
	m.Delta = append(m.Delta, delta)
}

// MoveHeads applies the moves to the KV cache, and re-rotates keys in place
// by shift (nil: none; else shift[(layer*NCtx + cell)*nHeadKV + head] for
// every row, 0 = unchanged, and no shifted row may be moved), in one graph on
// the backend that holds the cache. All moved rows are read before any is written.
func (c *Context) MoveHeads(m *HeadMoves, shift []int32) error {
	n := m.Len()
	if n == 0 && shift == nil {
		return nil
	}
	if len(m.Layer) != n || len(m.Head) != n || len(m.Dst) != n || len(m.Delta) != n {
		return errors.New("head moves: slices of different lengths")
	}
	if shift != nil && len(shift) != c.nLayer*c.nCtx*c.model.Info().NHeadKV {
		return fmt.Errorf("head moves: %d shifts, want layers x cells x KV heads = %d", len(shift), c.nLayer*c.nCtx*c.model.Info().NHeadKV)
	}
	ptr := func(s []int32) *C.int32_t {
		if len(s) == 0 {
			return nil
		}
		return (*C.int32_t)(unsafe.Pointer(&s[0]))
	}
	if r := C.h2o_head_moves(c.c, C.int32_t(n), ptr(m.Layer), ptr(m.Head), ptr(m.Src), ptr(m.Dst), ptr(m.Delta), ptr(shift)); r.rc != 0 {
		return callError(fmt.Sprintf("move %d head rows in the KV cache", n), r.detail)
	}
	return nil
}

// SetCellPos gives cells[i] position pos[i] in sequence seq (pos < 0: empty
// the cell) without re-rotating keys: positions then only drive the mask.
func (c *Context) SetCellPos(seq int32, cells, pos []int32) error {
	if len(cells) != len(pos) {
		return errors.New("set cell positions: slices of different lengths")
	}
	if len(cells) == 0 {
		return nil
	}
	if C.llama_kv_set_cell_pos(c.c, C.llama_seq_id(seq), C.int32_t(len(cells)),
		(*C.int32_t)(unsafe.Pointer(&cells[0])), (*C.llama_pos)(unsafe.Pointer(&pos[0]))) != 0 {
		return fmt.Errorf("set cell positions: bad cells or sequence %d", seq)
	}
	return nil
}

// ValueRow copies the value of a layer stored in a cell into out (as
// float32, heads in order) and returns its length.
func (c *Context) ValueRow(layer, cell int, out []float32) (int, error) {
	return c.cacheRow(false, layer, cell, out)
}

// HeadReplaceState is the state of per-head replacement on the backend: for
// every (layer, KV head, cell), at [(layer*nHeadKV + head)*NCtx + cell], the
// ordering key of the token that head holds in the cell (its index in the
// stream; -1: none) and the attention it received so far. With rank
// positions, Shift (taken back by EndHeadReplace when not nil) is every key's
// position shift since the handoff, at [(layer*NCtx + cell)*nHeadKV + head],
// the layout of MoveHeads' dense shift.
type HeadReplaceState struct {
	Sums  []float64
	Keys  []int32
	Shift []int32
}

// HeadReplace is how the decode graph replaces (llama-kv-head-replace.h):
// in every (layer, KV head) the new token takes the place of the held token
// with the least attention among those with keys [KeyLo, k+1-Recent) (k:
// the new token's key; the lowest key on ties). KeyNext is the first new
// token's key, and every decode adds one. Without RankPos keys are positions
// and each token is decoded at its key; with RankPos every token is decoded
// at the same position (the number held) and each head's keys sit at their
// ranks, rotated as attention reads them.
type HeadReplace struct {
	KeyLo   int32
	Recent  int
	KeyNext int32
	RankPos bool
}

// checkHeadReplace checks that st has an entry per (layer, KV head, cell).
func (c *Context) checkHeadReplace(st HeadReplaceState) error {
	n := c.nLayer * c.model.Info().NHeadKV * c.nCtx
	if len(st.Sums) != n || len(st.Keys) != n || (st.Shift != nil && len(st.Shift) != n) {
		return fmt.Errorf("head replacement: state of %d sums, %d keys and %d shifts, want layers x KV heads x cells = %d", len(st.Sums), len(st.Keys), len(st.Shift), n)
	}
	return nil
}

// BeginHeadReplace hands per-head eviction of sequence seq to the decode
// graph: from now on each decode is one token of seq, which replaces a held
// token in every (layer, KV head) on the backend as r says.
func (c *Context) BeginHeadReplace(seq int32, r HeadReplace, st HeadReplaceState) error {
	if err := c.checkHeadReplace(st); err != nil {
		return err
	}
	if rc := C.h2o_head_replace_begin(c.c, C.llama_seq_id(seq), C.int32_t(r.KeyLo), C.int32_t(r.Recent), C.int32_t(r.KeyNext),
		C.bool(r.RankPos), (*C.double)(unsafe.Pointer(&st.Sums[0])), (*C.int32_t)(unsafe.Pointer(&st.Keys[0]))); rc.rc != 0 {
		return callError("start per-head replacement", rc.detail)
	}
	return nil
}

// EndHeadReplace stops per-head replacement and copies its state into st
// (an empty st: discard it).
func (c *Context) EndHeadReplace(st HeadReplaceState) error {
	var sums *C.double
	var keys, shift *C.int32_t
	if len(st.Sums) > 0 || len(st.Keys) > 0 {
		if err := c.checkHeadReplace(st); err != nil {
			return err
		}
		sums, keys = (*C.double)(unsafe.Pointer(&st.Sums[0])), (*C.int32_t)(unsafe.Pointer(&st.Keys[0]))
		if len(st.Shift) > 0 {
			shift = (*C.int32_t)(unsafe.Pointer(&st.Shift[0]))
		}
	}
	if r := C.h2o_head_replace_end(c.c, sums, keys, shift); r.rc != 0 {
		return callError("end per-head replacement", r.detail)
	}
	return nil
}
