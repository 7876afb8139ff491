package main

import "github.com/urfave/cli/v2"

func attnCommand() *cli.Command {
	return &cli.Command{Name: "attn", Usage: "(not yet implemented)", Action: func(*cli.Context) error { return cli.Exit("attn: not implemented yet", 2) }}
}
