package gguf

import (
	"fmt"
	"strings"
)

// TensorType is a ggml tensor type; its value is the ggml type id stored in
// GGUF tensor infos (GGML_TYPE_* in ggml.h). The writer supports F32, F16,
// Q8_0 and Q4_0; the reader knows the names and sizes of every type.
type TensorType int

// Tensor types the writer can produce (ggml ids).
const (
	F32  TensorType = 0
	F16  TensorType = 1
	Q4_0 TensorType = 2
	Q8_0 TensorType = 8
)

// typeTrait is ggml's (block size, bytes per block) for a tensor type.
type typeTrait struct {
	name      string
	blockSize int64
	typeSize  int64
}

// typeTraits mirrors type_traits in ggml.c (GGML_TYPE_COUNT = 40 at the
// llama.cpp commit in llama.cpp/PIN); removed ids (4, 5, 31-33, 36-38) are absent.
var typeTraits = map[TensorType]typeTrait{
	0:  {"f32", 1, 4},
	1:  {"f16", 1, 2},
	2:  {"q4_0", 32, 18},
	3:  {"q4_1", 32, 20},
	6:  {"q5_0", 32, 22},
	7:  {"q5_1", 32, 24},
	8:  {"q8_0", 32, 34},
	9:  {"q8_1", 32, 36},
	10: {"q2_K", 256, 84},
	11: {"q3_K", 256, 110},
	12: {"q4_K", 256, 144},
	13: {"q5_K", 256, 176},
	14: {"q6_K", 256, 210},
	15: {"q8_K", 256, 292},
	16: {"iq2_xxs", 256, 66},
	17: {"iq2_xs", 256, 74},
	18: {"iq3_xxs", 256, 98},
	19: {"iq1_s", 256, 50},
	20: {"iq4_nl", 32, 18},
	21: {"iq3_s", 256, 110},
	22: {"iq2_s", 256, 82},
	23: {"iq4_xs", 256, 136},
	24: {"i8", 1, 1},
	25: {"i16", 1, 2},
	26: {"i32", 1, 4},
	27: {"i64", 1, 8},
	28: {"f64", 1, 8},
	29: {"iq1_m", 256, 56},
	30: {"bf16", 1, 2},
	34: {"tq1_0", 256, 54},
	35: {"tq2_0", 256, 66},
	39: {"mxfp4", 32, 17},
}

// String returns ggml's name of the type ("q4_0", "f16", ...).
func (t TensorType) String() string {
	if tr, ok := typeTraits[t]; ok {
		return tr.name
	}
	return fmt.Sprintf("type(%d)", int(t))
}

// writable reports whether the writer can produce tensors of type t.
func (t TensorType) writable() bool {
	return t == F32 || t == F16 || t == Q4_0 || t == Q8_0
}

// BlockSize is the number of elements per block (1 for float types); 0 if the
// type is unknown.
func (t TensorType) BlockSize() int64 { return typeTraits[t].blockSize }

// RowSize returns the number of bytes of a row of n elements, or an error if
// the type is unknown or n is not a multiple of the block size.
func (t TensorType) RowSize(n int64) (int64, error) {
	tr, ok := typeTraits[t]
	if !ok {
		return 0, fmt.Errorf("gguf: unknown tensor type %d", int(t))
	}
	if n < 0 || n%tr.blockSize != 0 {
		return 0, fmt.Errorf("gguf: row of %d elements is not a multiple of the %s block size %d", n, tr.name, tr.blockSize)
	}
	return n / tr.blockSize * tr.typeSize, nil
}

// ParseTensorType parses the name of a type the writer supports: "f32",
// "f16", "q8_0" or "q4_0" (case-insensitive).
func ParseTensorType(s string) (TensorType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "f32":
		return F32, nil
	case "f16":
		return F16, nil
	case "q8_0":
		return Q8_0, nil
	case "q4_0":
		return Q4_0, nil
	}
	return 0, fmt.Errorf("gguf: unsupported tensor type %q (want f32, f16, q8_0 or q4_0)", s)
}

// fileType is general.file_type (enum llama_ftype) for a model whose
// matrices have type t.
func fileType(t TensorType) uint32 {
	switch t {
	case F16:
		return 1 // LLAMA_FTYPE_MOSTLY_F16
	case Q4_0:
		return 2 // LLAMA_FTYPE_MOSTLY_Q4_0
	case Q8_0:
		return 7 // LLAMA_FTYPE_MOSTLY_Q8_0
	}
	return 0 // LLAMA_FTYPE_ALL_F32
}
