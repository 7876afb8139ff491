package binding

/*
#include <stdlib.h>
#include "glue.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Token is a vocabulary id.
type Token = int32

// Tokenize converts text to tokens; addSpecial adds BOS (as the model asks),
// parseSpecial lets control-token text such as "</s>" map to its token.
func (m *Model) Tokenize(text string, addSpecial, parseSpecial bool) ([]Token, error) {
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	n := len(text) + 8
	for {
		out := make([]Token, n)
		got := C.llama_tokenize(m.vocab, ctext, C.int32_t(len(text)),
			(*C.llama_token)(unsafe.Pointer(&out[0])), C.int32_t(n), C.bool(addSpecial), C.bool(parseSpecial))
		if got >= 0 {
			return out[:got], nil
		}
		if int(-got) <= n {
			return nil, fmt.Errorf("tokenize: failed (%d)", int(got))
		}
		n = int(-got)
	}
}

// Piece is the text of one token (special tokens rendered when special is true).
func (m *Model) Piece(t Token, special bool) string {
	var buf [128]C.char
	n := C.llama_token_to_piece(m.vocab, C.llama_token(t), &buf[0], C.int32_t(len(buf)), 0, C.bool(special))
	if n < 0 {
		big := make([]byte, -n)
		n = C.llama_token_to_piece(m.vocab, C.llama_token(t), (*C.char)(unsafe.Pointer(&big[0])), C.int32_t(len(big)), 0, C.bool(special))
		if n < 0 {
			return ""
		}
		return string(big[:n])
	}
	return C.GoStringN(&buf[0], n)
}

// Detokenize converts tokens back to text.
func (m *Model) Detokenize(tokens []Token, removeSpecial, unparseSpecial bool) string {
	if len(tokens) == 0 {
		return ""
	}
	n := len(tokens)*8 + 16
	for {
		buf := make([]byte, n)
		got := C.llama_detokenize(m.vocab, (*C.llama_token)(unsafe.Pointer(&tokens[0])), C.int32_t(len(tokens)),
			(*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(n), C.bool(removeSpecial), C.bool(unparseSpecial))
		if got >= 0 {
			return string(buf[:got])
		}
		n = int(-got) + 1
	}
}

// IsEOG reports whether t ends generation (EOS, EOT, ...).
func (m *Model) IsEOG(t Token) bool { return bool(C.llama_vocab_is_eog(m.vocab, C.llama_token(t))) }
