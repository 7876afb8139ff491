package main

import "github.com/urfave/cli/v2"

func pplCommand() *cli.Command {
	return &cli.Command{Name: "ppl", Usage: "(not yet implemented)", Action: func(*cli.Context) error { return cli.Exit("ppl: not implemented yet", 2) }}
}
