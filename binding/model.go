package binding

/*
#include <stdlib.h>
#include "glue.h"
*/
import "C"

import (
	"errors"
	"io"
	"os"
	"runtime"
	"strings"
	"unsafe"

	"github.com/h2o-kv/h2o/gguf"
)

// ModelParams chooses how a model is loaded.
type ModelParams struct {
	GPULayers int  // layers offloaded to the GPU; -1 = all; 0 = CPU only
	NoMmap    bool // read the file instead of mapping it
	// Over several GPUs (split.go): how, which GPU leads, and each GPU's
	// share of the layers or rows (nil: llama.cpp's, by free memory).
	Split       SplitMode
	MainGPU     int
	TensorSplit []float32
}

// Model is a loaded GGUF model. Close frees it; contexts must be closed first.
type Model struct {
	c      *C.struct_llama_model
	vocab  *C.struct_llama_vocab
	path   string
	params ModelParams
}

// GPULayers is the number of layers asked to be offloaded (-1: all, 0: none).
func (m *Model) GPULayers() int { return m.params.GPULayers }

// Params are the parameters the model was loaded with.
func (m *Model) Params() ModelParams { return m.params }

// LoadModel loads a GGUF file. A missing, truncated or non-GGUF file is an
// error, never a crash.
func LoadModel(path string, p ModelParams) (*Model, error) {
	ensureInit()
	if err := checkGGUF(path); err != nil {
		return nil, err
	}
	mp := C.llama_model_default_params()
	mp.n_gpu_layers = C.int32_t(p.GPULayers)
	if p.GPULayers < 0 {
		mp.n_gpu_layers = 999
	}
	mp.use_mmap = C.bool(!p.NoMmap)
	if err := p.checkSplit(len(GPUs())); err != nil {
		return nil, err
	}
	if ts := p.setSplit(&mp); ts != nil {
		defer C.free(ts)
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var lines *C.char
	m := C.h2o_model_load(cpath, mp, &lines)
	if m == nil {
		e := callError("load model "+path, lines)
		// The GGUF reader names what is wrong with a damaged file in its own
		// terms (which tensor, which offset); llama.cpp's lines follow.
		if _, err := gguf.ReadInfo(path); err != nil {
			e.Err = ggufReason(err)
		}
		return nil, e
	}
	model := &Model{c: m, vocab: C.llama_model_get_vocab(m), path: path, params: p}
	runtime.SetFinalizer(model, (*Model).Close)
	return model, nil
}

// checkGGUF gives a clear error for files llama.cpp would reject less clearly.
func checkGGUF(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return &Error{Op: "load model", Err: err}
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || string(magic[:]) != "GGUF" {
		return &Error{Op: "load model " + path, Err: errors.New("not a GGUF file")}
	}
	return nil
}

// ggufReason is a gguf.ReadInfo error without its "gguf: PATH: " prefix (the
// Error's Op names the file).
func ggufReason(err error) error {
	if inner := errors.Unwrap(err); inner != nil && strings.HasPrefix(err.Error(), "gguf: ") {
		return inner
	}
	return err
}

// Close frees the model. Safe to call twice.
func (m *Model) Close() error {
	if m == nil || m.c == nil {
		return nil
	}
	C.llama_model_free(m.c)
	m.c = nil
	m.vocab = nil
	runtime.SetFinalizer(m, nil)
	return nil
}

// Path is the file the model was loaded from.
func (m *Model) Path() string { return m.path }

// ModelInfo is the metadata that H2O and the CLIs need.
type ModelInfo struct {
	Arch        string
	Description string
	NLayer      int
	NHead       int
	NHeadKV     int
	NEmbd       int
	NCtxTrain   int
	NVocab      int
	NParams     uint64
	SizeBytes   uint64
	BOS, EOS    Token
	AddBOS      bool
}

// Info returns the model's metadata.
func (m *Model) Info() ModelInfo {
	var buf [256]C.char
	C.llama_model_desc(m.c, &buf[0], C.size_t(len(buf)))
	return ModelInfo{
		Arch:        m.Meta("general.architecture"),
		Description: C.GoString(&buf[0]),
		NLayer:      int(C.llama_model_n_layer(m.c)),
		NHead:       int(C.llama_model_n_head(m.c)),
		NHeadKV:     int(C.llama_model_n_head_kv(m.c)),
		NEmbd:       int(C.llama_model_n_embd(m.c)),
		NCtxTrain:   int(C.llama_model_n_ctx_train(m.c)),
		NVocab:      int(C.llama_vocab_n_tokens(m.vocab)),
		NParams:     uint64(C.llama_model_n_params(m.c)),
		SizeBytes:   uint64(C.llama_model_size(m.c)),
		BOS:         Token(C.llama_vocab_bos(m.vocab)),
		EOS:         Token(C.llama_vocab_eos(m.vocab)),
		AddBOS:      bool(C.llama_vocab_get_add_bos(m.vocab)),
	}
}

// Meta returns a metadata value as a string ("" when absent).
func (m *Model) Meta(key string) string {
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	buf := make([]byte, 512)
	n := C.llama_model_meta_val_str(m.c, ckey, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	if n < 0 {
		return ""
	}
	if int(n) >= len(buf) {
		buf = make([]byte, int(n)+1)
		C.llama_model_meta_val_str(m.c, ckey, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	}
	return string(buf[:n])
}
