package main

import "github.com/urfave/cli/v2"

func runCommand() *cli.Command {
	return &cli.Command{Name: "run", Usage: "(not yet implemented)", Action: func(*cli.Context) error { return cli.Exit("run: not implemented yet", 2) }}
}
