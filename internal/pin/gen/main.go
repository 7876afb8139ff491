// Command gen writes the Go file that carries the llama.cpp commit of
// llama.cpp/PIN into package binding (run by go generate there; a test of
// internal/pin fails when the two differ).
//
// Usage: go run ./internal/pin/gen -pin llama.cpp/PIN -o binding/pin.go
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
	pkg := flag.String("pkg", "binding", "its package")
	flag.Parse()
	commit, err := pin.Read(*pinPath, pin.LlamaCppCommit)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	src, err := format.Source(pin.GoSource(*pkg, commit))
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
