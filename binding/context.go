package binding

/*
#include <stdlib.h>
#include "glue.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"
)

// ContextParams configures an inference context. Zero values pick defaults.
type ContextParams struct {
	NCtx    int // KV cells; 0 = the model's trained context
	NBatch  int // largest batch given to Decode; 0 = 512 (capped at NCtx)
	NUbatch int // micro-batch size; 0 = NBatch
	NSeqMax int // sequences; 0 = 1
	// Unified puts all sequences in one KV stream of NCtx cells. Without it
	// each sequence has a stream of NCtx/NSeqMax cells (rounded up to 256)
	// and attends only its own: a batch of N sequences then costs N times one
	// sequence, not N squared.
	Unified      bool
	Threads      int    // decode threads; 0 = all cores
	ThreadsBatch int    // prompt threads; 0 = Threads
	FlashAttn    string // "on", "off" or "auto" (llama.cpp's pick by device support); "" = off
	TypeK, TypeV string // KV cache types: f32, f16 (default), q8_0, q4_0, ...
	// Scores turns on the h2o attention-score collection. With flash
	// attention on, decode steps take the scores from the kernel's logits
	// (patch 0007) and prompt chunks run without it (session.Options decides
	// where it runs).
	Scores ScoresMode
	// RotateOnRead keeps position shifts with the cells and rotates the keys
	// attention reads by them, instead of re-rotating the stored keys in
	// place at every shift (llama-kv-rotation.h).
	RotateOnRead bool
	// Capture, when set, receives llama.cpp's own softmax row sums through the
	// eval callback (verification only: it slows decoding).
	Capture *SoftmaxCapture
	// Profile, when set, times every graph node (see OpProfile; it slows
	// decoding). It cannot be combined with Capture.
	Profile *OpProfile
}

// Context is an inference context over a Model. Not safe for concurrent use.
type Context struct {
	c      *C.struct_llama_context
	model  *Model
	params ContextParams
	nCtx   int
	nLayer int
	nVocab int
	abort  *C.int // polled by llama.cpp during a decode; set only within DecodeContext
	cells  cellBuffers
	nOut   int // outputs of the last Decode
}

// NewContext creates a context. Out-of-memory (e.g. on the GPU) is an error.
func NewContext(m *Model, p ContextParams) (*Context, error) {
	if m == nil || m.c == nil {
		return nil, errors.New("new context: model is closed")
	}
	cp := C.llama_context_default_params()
	info := m.Info()
	if p.NCtx <= 0 {
		p.NCtx = info.NCtxTrain
	}
	// llama.cpp sizes the cache in multiples of 256 cells.
	p.NCtx = (p.NCtx + 255) / 256 * 256
	if p.NBatch <= 0 {
		p.NBatch = 512
	}
	if p.NBatch > p.NCtx {
		p.NBatch = p.NCtx
	}
	if p.NUbatch <= 0 || p.NUbatch > p.NBatch {
		p.NUbatch = p.NBatch
	}
	if p.NSeqMax <= 0 {
		p.NSeqMax = 1
	}
	if p.Threads <= 0 {
		p.Threads = runtime.NumCPU()
	}
	if p.ThreadsBatch <= 0 {
		p.ThreadsBatch = p.Threads
	}
	cp.n_ctx = C.uint32_t(p.NCtx)
	cp.n_batch = C.uint32_t(p.NBatch)
	cp.n_ubatch = C.uint32_t(p.NUbatch)
	cp.n_seq_max = C.uint32_t(p.NSeqMax)
	cp.n_threads = C.int32_t(p.Threads)
	cp.n_threads_batch = C.int32_t(p.ThreadsBatch)
	cp.no_perf = false
	fa, err := parseFlashAttn(p.FlashAttn)
	if err != nil {
		return nil, err
	}
	if p.Capture != nil && fa != C.LLAMA_FLASH_ATTN_TYPE_DISABLED {
		// the capture reads llama.cpp's own softmax tensor
		return nil, errors.New("new context: the softmax capture needs flash attention off")
	}
	cp.kv_unified = C.bool(p.Unified || p.NSeqMax == 1)
	cp.flash_attn_type = fa
	if cp.type_k, err = parseCacheType(p.TypeK); err != nil {
		return nil, err
	}
	if cp.type_v, err = parseCacheType(p.TypeV); err != nil {
		return nil, err
	}
	switch {
	case p.Capture != nil && p.Profile != nil:
		return nil, errors.New("new context: a softmax capture and an op profile cannot run together")
	case p.Capture != nil:
		C.h2o_capture_set(&cp, p.Capture.c)
	case p.Profile != nil:
		C.h2o_opprof_set(&cp, p.Profile.c)
	}
	var lines *C.char
	c := C.h2o_context_new(m.c, cp, &lines)
	if c == nil {
		return nil, callError(fmt.Sprintf("create context (n_ctx %d)", p.NCtx), lines)
	}
	ctx := &Context{c: c, model: m, params: p, nCtx: int(C.llama_n_ctx(c)), nLayer: info.NLayer, nVocab: info.NVocab}
	ctx.abort = (*C.int)(C.calloc(1, C.size_t(unsafe.Sizeof(C.int(0)))))
	C.h2o_set_abort_flag(c, ctx.abort)
	runtime.SetFinalizer(ctx, (*Context).Close)
	if p.Scores != ScoresOff {
		if err := ctx.setScores(p.Scores); err != nil {
			ctx.Close()
			return nil, err
		}
	}
	if p.RotateOnRead {
		if err := ctx.setRotateOnRead(true); err != nil {
			ctx.Close()
			return nil, err
		}
	}
	return ctx, nil
}

func (c *Context) setRotateOnRead(on bool) error {
	if C.llama_kv_set_rotate_on_read(c.c, C.bool(on)) != 0 {
		return errors.New("keys rotated on read: this model's positions are not plain RoPE")
	}
	return nil
}

// CellShift is the position shift a cell has accumulated and not applied to
// its stored key: with RotateOnRead, the rotation attention applies when it
// reads the key (for tests; see KeyRow).
func (c *Context) CellShift(cell int) (int, error) {
	var s C.llama_pos
	if C.llama_kv_get_cell_shift(c.c, C.int32_t(cell), &s) != 0 {
		return 0, fmt.Errorf("cell shift: cell %d out of range", cell)
	}
	return int(s), nil
}

// RotateOnRead reports whether the context rotates keys on read.
func (c *Context) RotateOnRead() bool { return bool(C.llama_kv_get_rotate_on_read(c.c)) }

// Close frees the context. Safe to call twice.
func (c *Context) Close() error {
	if c == nil || c.c == nil {
		return nil
	}
	C.llama_free(c.c)
	c.c = nil
	C.free(unsafe.Pointer(c.abort))
	c.abort = nil
	runtime.SetFinalizer(c, nil)
	return nil
}

// Model is the model this context runs.
func (c *Context) Model() *Model { return c.model }

// Params are the effective parameters (defaults filled in).
func (c *Context) Params() ContextParams { return c.params }

// NCtx is the number of KV cells.
func (c *Context) NCtx() int { return c.nCtx }

// FlashAttn reports whether the context runs flash attention, "auto" resolved.
func (c *Context) FlashAttn() bool { return bool(C.llama_get_flash_attn(c.c)) }

// NBatch is the largest batch Decode accepts.
func (c *Context) NBatch() int { return int(C.llama_n_batch(c.c)) }

// NUbatch is the micro-batch size.
func (c *Context) NUbatch() int { return int(C.llama_n_ubatch(c.c)) }

// Decode runs the batch. Its failures are *Error values (Op "decode") with
// llama.cpp's reason; errors.Is(err, ErrKVFull) when no KV slot fits the batch.
func (c *Context) Decode(b *Batch) error {
	if b.Len() == 0 {
		return errors.New("decode: empty batch")
	}
	if b.Len() > c.NBatch() {
		return fmt.Errorf("decode: batch of %d tokens exceeds n_batch %d", b.Len(), c.NBatch())
	}
	c.nOut = 0
	r := C.h2o_decode(c.c, b.c)
	if r.rc == 0 {
		c.nOut = b.Outputs()
		return nil
	}
	e := callError("decode", r.detail)
	switch r.rc {
	case 1:
		e.Err = ErrKVFull
	case 2:
		// the flag is set only by DecodeContext, which adds the cause; the
		// lines logged only say that the compute stopped
		e.Err, e.Detail = ErrAborted, ""
	default:
		if e.Detail == "" {
			e.Detail = fmt.Sprintf("llama_decode returned %d", int(r.rc))
		}
	}
	return e
}

// DecodeContext is Decode stopped early when ctx ends. The CPU backend polls
// between graph nodes, so a long batch returns within about one node's time
// (a GPU backend may finish its graph first). The error then wraps ErrAborted and
// ctx's cause (context.Canceled, ...); the KV cells of the micro-batch being
// computed are removed, those of earlier micro-batches stay. A ctx that has
// already ended decodes nothing.
func (c *Context) DecodeContext(ctx context.Context, b *Batch) error {
	if ctx.Done() == nil {
		return c.Decode(b)
	}
	if ctx.Err() != nil {
		return &Error{Op: "decode", Err: abortedBy(ctx)}
	}
	set := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		C.h2o_abort_store(c.abort, 1)
		close(set)
	})
	err := c.Decode(b)
	if !stop() {
		// ctx ended: wait for the flag to be set, then clear it for the next decode
		<-set
		C.h2o_abort_store(c.abort, 0)
	}
	if e, ok := err.(*Error); ok && e.Err == ErrAborted {
		e.Err = abortedBy(ctx)
	}
	return err
}

func abortedBy(ctx context.Context) error {
	return fmt.Errorf("%w: %w", ErrAborted, context.Cause(ctx))
}

// Logits returns the logits of batch entry i (i = -1: the last with logits).
// The slice views llama.cpp's buffer and is valid until the next Decode.
func (c *Context) Logits(i int) []float32 {
	p := C.llama_get_logits_ith(c.c, C.int32_t(i))
	if p == nil {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(p)), c.nVocab)
}

// OutputLogits returns the logits of every batch entry that asked for them
// in the last Decode, in batch order: row j (NVocab values) is the j-th such
// entry. One wait for the backend where Logits waits at every call. The
// slice views llama.cpp's buffer and is valid until the next Decode.
func (c *Context) OutputLogits() []float32 {
	if c.nOut == 0 {
		return nil
	}
	p := C.llama_get_logits(c.c)
	if p == nil {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(p)), c.nOut*c.nVocab)
}

// SetOutputArgmax makes the following decodes compute each output's
// largest logit's index on the backend and copy back only those
// (OutputArgmax) instead of the logits (patch 0012): for greedy decoding.
// Switching rebuilds the next decode's graph.
func (c *Context) SetOutputArgmax(on bool) { C.llama_set_output_argmax(c.c, C.bool(on)) }

// OutputArgmax is the index of the largest logit of each output of the last
// decode, in the order of OutputLogits' rows (ties: the lowest index), or
// nil when that decode ran without SetOutputArgmax(true). The slice is
// valid until the next decode.
func (c *Context) OutputArgmax() []int32 {
	if c.nOut == 0 {
		return nil
	}
	p := C.llama_get_argmax(c.c)
	if p == nil {
		return nil
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(p)), c.nOut)
}

// Synchronize waits for queued backend work.
func (c *Context) Synchronize() { C.llama_synchronize(c.c) }

func parseFlashAttn(s string) (C.enum_llama_flash_attn_type, error) {
	switch strings.ToLower(s) {
	case "auto":
		return C.LLAMA_FLASH_ATTN_TYPE_AUTO, nil
	case "on", "1", "true", "enabled":
		return C.LLAMA_FLASH_ATTN_TYPE_ENABLED, nil
	case "", "off", "0", "false", "disabled":
		return C.LLAMA_FLASH_ATTN_TYPE_DISABLED, nil
	}
	return 0, fmt.Errorf("flash attention: %q is not on, off or auto", s)
}

var cacheTypes = map[string]C.enum_ggml_type{
	"f32": C.GGML_TYPE_F32, "f16": C.GGML_TYPE_F16, "bf16": C.GGML_TYPE_BF16,
	"q8_0": C.GGML_TYPE_Q8_0, "q4_0": C.GGML_TYPE_Q4_0, "q4_1": C.GGML_TYPE_Q4_1,
	"q5_0": C.GGML_TYPE_Q5_0, "q5_1": C.GGML_TYPE_Q5_1, "iq4_nl": C.GGML_TYPE_IQ4_NL,
}

func parseCacheType(s string) (C.enum_ggml_type, error) {
	if s == "" {
		return C.GGML_TYPE_F16, nil
	}
	t, ok := cacheTypes[strings.ToLower(s)]
	if !ok {
		return 0, fmt.Errorf("KV cache type %q: want one of f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl", s)
	}
	return t, nil
}

// CacheTypeBytes is the size of n elements of a KV cache type.
func CacheTypeBytes(s string, n int) (int64, error) {
	t, err := parseCacheType(s)
	if err != nil {
		return 0, err
	}
	return int64(C.ggml_row_size(t, C.int64_t(n))), nil
}

// MaxSequences is the most sequences one context holds (llama.cpp's
// LLAMA_MAX_SEQ, raised by patch 0011).
func MaxSequences() int { return int(C.llama_max_parallel_sequences()) }
