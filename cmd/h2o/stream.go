package main

import "github.com/urfave/cli/v2"

func streamCommand() *cli.Command {
	return &cli.Command{Name: "stream", Usage: "(not yet implemented)", Action: func(*cli.Context) error { return cli.Exit("stream: not implemented yet", 2) }}
}
