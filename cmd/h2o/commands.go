package main

import "github.com/urfave/cli/v2"

// commands lists every subcommand; each lives in its own file.
func commands() []*cli.Command {
	return []*cli.Command{
		runCommand(),
		serveCommand(),
		chatCommand(),
		serveBenchCommand(),
		attnCommand(),
		summarizeCommand(),
		streamCommand(),
		pplCommand(),
		benchCommand(),
		ggufCommand(),
		versionCommand(),
	}
}

// newCommand is a subcommand offering the flags that the table in flags.go
// scopes to it.
func newCommand(cmd command, name, usage, description string, action cli.ActionFunc) *cli.Command {
	return &cli.Command{Name: name, Usage: usage, Description: description, Flags: flagsFor(cmd), Action: action}
}
