// Command gen writes binding/pin.go, which carries the llama.cpp commit of
// llama.cpp/PIN into package binding (go generate runs it there; a test of
// internal/pin fails when the file is not what this writes).
//
// Usage (from binding/): go run ../internal/pin/gen -pin ../llama.cpp/PIN -o pin.go
package main

import (
	"flag"
	"fmt"
	"go/format"
	"os"

	"github.com/h2o-kv/h2o/internal/pin"
)

func main() {
	pinPath := flag.String("pin", "../llama.cpp/PIN", "the PIN file")
	out := flag.String("o", "pin.go", "the Go file to write")
	flag.Parse()
	if err := write(*pinPath, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func write(pinPath, out string) error {
	commit, err := pin.Read(pinPath, pin.LlamaCppCommit)
	if err != nil {
		return err
	}
	src, err := format.Source(pin.GoSource("binding", commit))
	if err != nil {
		return err
	}
	return os.WriteFile(out, src, 0o644)
}
