// Package binding is a small cgo layer over llama.h and the headers our
// patches add (llama-attn-scores.h, llama-kv-heads.h, llama-kv-inspect.h).
// It translates to C and back: handles with Close, Go errors instead of
// aborts, no eviction policy.
package binding

/*
#cgo CFLAGS: -O2 -I${SRCDIR}/../build/llama-src/llama/include -I${SRCDIR}/../build/llama-src/ggml/include
#cgo LDFLAGS: -L${SRCDIR}/../bin/lib -lllama -lggml -lggml-base -ldl -Wl,-rpath,$ORIGIN/lib -Wl,-rpath,${SRCDIR}/../bin/lib
#include <stdlib.h>
#include "glue.h"
*/
import "C"

import (
	"os"
	"strings"
	"sync"
)

// LlamaCppCommit (pin.go) is generated from llama.cpp/PIN; internal/pin's
// tests fail when it differs.
//go:generate go run ../internal/pin/gen -pin ../llama.cpp/PIN -o pin.go

// LogLevel selects which llama.cpp messages reach stderr.
type LogLevel int

const (
	LogDebug LogLevel = C.GGML_LOG_LEVEL_DEBUG
	LogInfo  LogLevel = C.GGML_LOG_LEVEL_INFO
	LogWarn  LogLevel = C.GGML_LOG_LEVEL_WARN
	LogError LogLevel = C.GGML_LOG_LEVEL_ERROR
	LogNone  LogLevel = C.GGML_LOG_LEVEL_ERROR + 1
)

var (
	initOnce   sync.Once
	backendDir string
)

// Init loads the backends once (CPU, CUDA, ... found next to libggml) and
// routes llama.cpp's log to stderr at the given level (H2O_LOG=debug|info|warn|error|none overrides).
// Every constructor calls it; calling it first only chooses the level.
func Init(level LogLevel) {
	initOnce.Do(func() {
		if v, ok := parseLogLevel(os.Getenv("H2O_LOG")); ok {
			level = v
		}
		C.h2o_log_install(C.int(level))
		backendDir = C.GoString(C.h2o_load_backends())
		C.llama_backend_init()
	})
}

func ensureInit() { Init(LogError) }

func parseLogLevel(s string) (LogLevel, bool) {
	switch strings.ToLower(s) {
	case "debug":
		return LogDebug, true
	case "info":
		return LogInfo, true
	case "warn":
		return LogWarn, true
	case "error":
		return LogError, true
	case "none":
		return LogNone, true
	}
	return 0, false
}

// BackendDir is the directory the runtime backends were loaded from.
func BackendDir() string { ensureInit(); return backendDir }
