package main

import (
	"fmt"
	"strings"

	"github.com/h2o-kv/h2o/binding"
	"github.com/urfave/cli/v2"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the h2o version, the llama.cpp commit and the backends found",
		Action: func(c *cli.Context) error {
			fmt.Printf("h2o %s\n", version)
			fmt.Printf("llama.cpp %s (patched, see llama.cpp/patches)\n", binding.LlamaCppCommit)
			fmt.Printf("backends: %s (from %s)\n", strings.Join(binding.Backends(), ", "), binding.BackendDir())
			for _, d := range binding.Devices() {
				fmt.Printf("device: %s %s (%s), %.1f/%.1f GiB free\n", d.Backend, d.Name, d.Description,
					float64(d.FreeBytes)/(1<<30), float64(d.TotalBytes)/(1<<30))
			}
			return nil
		},
	}
}
