package main

import "github.com/urfave/cli/v2"

func benchCommand() *cli.Command {
	return &cli.Command{Name: "bench", Usage: "(not yet implemented)", Action: func(*cli.Context) error { return cli.Exit("bench: not implemented yet", 2) }}
}
