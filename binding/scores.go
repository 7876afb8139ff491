package binding

/*
#include <stdlib.h>
#include "glue.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// ScoresMode selects the attention-score collection of the h2o patch.
type ScoresMode int

const (
	ScoresOff       ScoresMode = C.LLAMA_ATTN_SCORES_OFF
	ScoresKVHead    ScoresMode = C.LLAMA_ATTN_SCORES_KV_HEAD // query heads of a GQA group summed
	ScoresQueryHead ScoresMode = C.LLAMA_ATTN_SCORES_Q_HEAD  // one row per query head
	ScoresLayer     ScoresMode = C.LLAMA_ATTN_SCORES_LAYER   // one row per layer, all heads summed
	ScoresTotal     ScoresMode = C.LLAMA_ATTN_SCORES_TOTAL   // one row: layers and heads summed (NLayer 1)
)

func (m ScoresMode) String() string {
	switch m {
	case ScoresOff:
		return "off"
	case ScoresKVHead:
		return "kv-head"
	case ScoresQueryHead:
		return "query-head"
	case ScoresLayer:
		return "layer"
	case ScoresTotal:
		return "total"
	}
	return fmt.Sprintf("ScoresMode(%d)", int(m))
}

// Scores is the attention each KV cell received during the last Decode,
// summed over that decode's query tokens (and micro-batches).
// Data views llama.cpp's buffer: valid until the next Decode, never copied.
type Scores struct {
	NLayer int
	NHead  int // KV heads or query heads, per the mode
	NCells int // row stride: the number of KV cells
	NKV    int // cells [0, NKV) were attended; the rest are 0
	Data   []float32
}

// Row is the score row of one layer and head: Row(l, h)[cell].
func (s Scores) Row(layer, head int) []float32 {
	off := (layer*s.NHead + head) * s.NCells
	return s.Data[off : off+s.NKV]
}

func (c *Context) setScores(m ScoresMode) error {
	if r := C.h2o_set_scores(c.c, C.enum_llama_attn_scores_mode(m)); r.rc != 0 {
		return callError("enable attention scores", r.detail)
	}
	return nil
}

// Scores returns the scores of the last Decode; ok is false when collection
// is off or nothing was decoded yet.
func (c *Context) Scores() (s Scores, ok bool) {
	v := C.h2o_get_scores(c.c)
	nKV, nHead, nCells, p := v.n_kv, v.n_head, v.n_cells, v.data
	if p == nil {
		return Scores{}, false
	}
	nLayer := c.nLayer
	if c.params.Scores == ScoresTotal {
		nLayer = 1
	}
	return Scores{
		NLayer: nLayer, NHead: int(nHead), NCells: int(nCells), NKV: int(nKV),
		Data: unsafe.Slice((*float32)(unsafe.Pointer(p)), nLayer*int(nHead)*int(nCells)),
	}, true
}

// Cell is what a KV cell holds: a position of a sequence, or nothing (Pos -1).
type Cell struct {
	Pos int32
	Seq int32
}

type cellBuffers struct {
	pos, seq []int32
}

// Layout says how cells are numbered: NStream KV streams of StreamSize cells,
// cell = stream*StreamSize + i. A sequence's stream is its id without
// ContextParams.Unified, 0 with it.
type Layout struct {
	NStream, StreamSize int
}

// Stream is the range of cells [First, First+StreamSize) of sequence seq.
func (l Layout) Stream(seq int) (first int) {
	if l.NStream <= 1 {
		return 0
	}
	return seq * l.StreamSize
}

// Layout of the context's KV cells.
func (c *Context) Layout() Layout {
	var ns, size C.int32_t
	if C.llama_kv_get_layout(c.c, &ns, &size) != 0 {
		return Layout{NStream: 1, StreamSize: c.nCtx}
	}
	return Layout{NStream: int(ns), StreamSize: int(size)}
}

// Cells fills out with the contents of cells [0, len(out)) and returns how
// many were filled. Buffers are reused: no allocation once warmed up.
func (c *Context) Cells(out []Cell) int { return c.CellsFrom(0, out) }

// CellsFrom fills out with the contents of cells [first, first+len(out)).
func (c *Context) CellsFrom(first int, out []Cell) int {
	n := len(out)
	if n == 0 {
		return 0
	}
	if cap(c.cells.pos) < n {
		c.cells.pos = make([]int32, n)
		c.cells.seq = make([]int32, n)
	}
	got := c.CellsInto(first, c.cells.pos[:n], c.cells.seq[:n])
	for i := 0; i < got; i++ {
		out[i] = Cell{Pos: c.cells.pos[i], Seq: c.cells.seq[i]}
	}
	return got
}

// CellsInto writes the position and sequence (-1 for an empty cell) of cells
// [first, first+len(pos)) into pos and seq, and returns how many it wrote.
// It only reads the cache: calls for disjoint outputs may run concurrently,
// while nothing decodes or evicts.
func (c *Context) CellsInto(first int, pos, seq []int32) int {
	n := min(len(pos), len(seq))
	if n == 0 {
		return 0
	}
	got := C.llama_kv_get_cells(c.c, C.int32_t(first), C.int32_t(n),
		(*C.llama_pos)(unsafe.Pointer(&pos[0])), (*C.llama_seq_id)(unsafe.Pointer(&seq[0])))
	return max(int(got), 0)
}

// KeyRow copies the key of a layer stored in a cell into out (as float32,
// pending position shifts applied first) and returns its length.
func (c *Context) KeyRow(layer, cell int, out []float32) (int, error) {
	return c.cacheRow(true, layer, cell, out)
}

// cacheRow is KeyRow (key) or ValueRow (!key).
func (c *Context) cacheRow(key bool, layer, cell int, out []float32) (int, error) {
	what := "value row"
	if key {
		what = "key row"
	}
	if len(out) == 0 {
		return 0, errors.New(what + ": empty output buffer")
	}
	l, ce, p, size := C.int32_t(layer), C.int32_t(cell), (*C.float)(unsafe.Pointer(&out[0])), C.int32_t(len(out))
	var n C.int32_t
	if key {
		n = C.llama_kv_get_k(c.c, l, ce, p, size)
	} else {
		n = C.llama_kv_get_v(c.c, l, ce, p, size)
	}
	if n < 0 {
		return 0, fmt.Errorf("%s: layer %d cell %d unavailable", what, layer, cell)
	}
	return int(n), nil
}

// SoftmaxCapture sums, through llama.cpp's eval callback, the rows of one
// named graph tensor per layer ("kq_soft_max" by default): an independent
// reading of the softmax to verify the patch against.
type SoftmaxCapture struct {
	c *C.h2o_capture
}

// NewSoftmaxCapture allocates sums for nLayer x nHead x nKV cells.
func NewSoftmaxCapture(name string, nLayer, nHead, nKV int) *SoftmaxCapture {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return &SoftmaxCapture{c: C.h2o_capture_new(cname, C.int(nLayer), C.int(nHead), C.int(nKV))}
}

// Close frees the capture (after the context using it is closed).
func (s *SoftmaxCapture) Close() {
	if s != nil && s.c != nil {
		C.h2o_capture_free(s.c)
		s.c = nil
	}
}

// Sums is the captured sum for (layer, head, cell).
func (s *SoftmaxCapture) Sums() []float32 {
	n := int(s.c.n_layer) * int(s.c.n_head) * int(s.c.n_kv)
	return unsafe.Slice((*float32)(unsafe.Pointer(s.c.sums)), n)
}

// Reset zeroes the sums.
func (s *SoftmaxCapture) Reset() {
	clear(s.Sums())
	s.c.seen = 0
	s.c.max_kv = 0
}

// Seen is the number of tensors captured since Reset.
func (s *SoftmaxCapture) Seen() int { return int(s.c.seen) }
