package main

import "github.com/urfave/cli/v2"

func ggufCommand() *cli.Command {
	return &cli.Command{Name: "gguf", Usage: "(not yet implemented)", Action: func(*cli.Context) error { return cli.Exit("gguf: not implemented yet", 2) }}
}
