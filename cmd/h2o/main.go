// Command h2o runs GGUF Llama models through llama.cpp with H2O
// (Heavy-Hitter Oracle) KV-cache eviction.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "0.1.0-dev"

func main() {
	app := &cli.App{
		Name:                 "h2o",
		Usage:                "LLM inference with Heavy-Hitter Oracle KV-cache eviction (llama.cpp, GGUF)",
		Version:              version,
		EnableBashCompletion: true,
		Commands:             commands(),
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "h2o:", err)
		os.Exit(1)
	}
}
