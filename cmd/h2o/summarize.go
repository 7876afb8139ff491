package main

import "github.com/urfave/cli/v2"

func summarizeCommand() *cli.Command {
	return &cli.Command{Name: "summarize", Usage: "(not yet implemented)", Action: func(*cli.Context) error { return cli.Exit("summarize: not implemented yet", 2) }}
}
