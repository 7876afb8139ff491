package binding

/*
#include <stdlib.h>
#include "glue.h"
*/
import "C"

import (
	"errors"
	"strings"
	"unsafe"
)

// Error is a failed llama.cpp call. Its message leads with the reason:
// "decode: invalid token[0] = 9999; failed to initialize batch; ...", or
// "OP: ERR; llama.cpp: DETAIL" when both are known.
type Error struct {
	Op string // what was attempted: "load model PATH", "create context (n_ctx 512)", "decode", ...
	// Detail is llama.cpp's own reason: the error lines it logged during
	// this call (never another call's), without their function-name
	// prefixes, joined by "; ". Empty when it logged none.
	Detail string
	// Err is a known condition or cause (ErrKVFull, ErrAborted wrapping the
	// context's cause, what the GGUF reader finds wrong with a model file),
	// or nil. errors.Is and errors.As see through it.
	Err error
}

func (e *Error) Error() string {
	switch {
	case e.Err != nil && e.Detail != "":
		return e.Op + ": " + e.Err.Error() + "; llama.cpp: " + e.Detail
	case e.Err != nil:
		return e.Op + ": " + e.Err.Error()
	case e.Detail != "":
		return e.Op + ": " + e.Detail
	}
	return e.Op + ": failed"
}

func (e *Error) Unwrap() error { return e.Err }

var (
	// ErrKVFull is wrapped by Decode's error when the KV cache has no room for the batch.
	ErrKVFull = errors.New("KV cache is full")
	// ErrAborted is wrapped by DecodeContext's error when its context ended
	// before the decode finished (together with the context's cause).
	ErrAborted = errors.New("aborted")
)

// callError is the Error of op with the error lines a glue call handed out
// (freed here; nil when it logged none).
func callError(op string, lines *C.char) *Error {
	e := &Error{Op: op}
	if lines != nil {
		e.Detail = detail(C.GoString(lines))
		C.free(unsafe.Pointer(lines))
	}
	return e
}

// detail turns llama.cpp error log text into one line: "func: msg" lines lose
// the function name, a line repeating the one before is dropped.
func detail(log string) string {
	var lines []string
	for _, l := range strings.Split(log, "\n") {
		l = strings.TrimSpace(l)
		if name, rest, ok := strings.Cut(l, ": "); ok && isIdent(name) {
			l = strings.TrimSpace(rest)
		}
		if l != "" && (len(lines) == 0 || lines[len(lines)-1] != l) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r != '_' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}
