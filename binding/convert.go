package binding

/*
#include <stdlib.h>
#include "glue.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unsafe"
)

// convertTypes are the weight types Convert writes, as llama.cpp's file
// types: every matrix in that type, 1-d tensors (norms) in f32.
var convertTypes = map[string]C.enum_llama_ftype{
	"f32":  C.LLAMA_FTYPE_ALL_F32,
	"f16":  C.LLAMA_FTYPE_MOSTLY_F16,
	"bf16": C.LLAMA_FTYPE_MOSTLY_BF16,
	"q8_0": C.LLAMA_FTYPE_MOSTLY_Q8_0,
	"q4_0": C.LLAMA_FTYPE_MOSTLY_Q4_0,
}

// ConvertTypeNames are the weight types Convert writes, sorted.
func ConvertTypeNames() []string {
	return slices.Sorted(maps.Keys(convertTypes))
}

// ConvertParams chooses what Convert writes.
type ConvertParams struct {
	Type    string // one of ConvertTypeNames
	Threads int    // 0: one per CPU
}

// Convert writes the GGUF model at in to out with its weights in another
// type, through llama.cpp's quantizer (the choices of its quantize tool,
// quantized inputs allowed): a quantized weight is expanded to f32 and then
// written in the new type, so a conversion to a wider type gains speed where
// the backend multiplies that type faster, never precision. in and out must
// be different files.
func Convert(in, out string, p ConvertParams) error {
	ensureInit()
	op := fmt.Sprintf("convert %s to %s", in, p.Type)
	ftype, ok := convertTypes[p.Type]
	if !ok {
		return &Error{Op: op, Err: fmt.Errorf("unknown weight type %q (want one of %s)", p.Type, strings.Join(ConvertTypeNames(), ", "))}
	}
	if p.Threads < 0 {
		return &Error{Op: op, Err: fmt.Errorf("threads %d: want 0 (one per CPU) or more", p.Threads)}
	}
	if err := checkGGUF(in); err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Op = op
		}
		return err
	}
	if same, err := sameFile(in, out); err != nil {
		return &Error{Op: op, Err: err}
	} else if same {
		return &Error{Op: op, Err: errors.New("the output is the input file")}
	}
	if st, err := os.Stat(filepath.Dir(out)); err != nil || !st.IsDir() {
		return &Error{Op: op, Err: fmt.Errorf("no directory for %s", out)}
	}
	// written next to out and renamed when complete: an error or an
	// interruption never leaves a half-written model under out's name
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.part")
	if err != nil {
		return &Error{Op: op, Err: err}
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	qp := C.llama_model_quantize_default_params()
	qp.nthread = C.int32_t(p.Threads)
	qp.ftype = ftype
	qp.allow_requantize = true
	cin, ctmp := C.CString(in), C.CString(tmp.Name())
	defer C.free(unsafe.Pointer(cin))
	defer C.free(unsafe.Pointer(ctmp))
	if r := C.h2o_model_quantize(cin, ctmp, &qp); r.rc != 0 {
		return callError(op, r.detail)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return &Error{Op: op, Err: err}
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return &Error{Op: op, Err: err}
	}
	return nil
}

// sameFile reports whether a and b name one file (b may not exist yet).
func sameFile(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}
