package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

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
	return &cli.Command{Name: name, Usage: usage, Description: description, Flags: flagsFor(cmd), Before: checkArgs, Action: action}
}

// checkArgs refuses arguments to a command that takes none (a word left
// over from a mistyped flag would be ignored) and numeric flags out of range.
func checkArgs(c *cli.Context) error {
	if strings.TrimSpace(c.Command.ArgsUsage) == "" && c.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q (this command takes flags only)", c.Command.Name, c.Args().First())
	}
	return checkRanges(c)
}

// flagsFirst moves the flags of a command line before its arguments, so that
// flags are accepted anywhere, as llama.cpp's tools accept them (the flag
// parser stops at the first argument). Everything after "--" stays an
// argument.
func flagsFirst(app *cli.App, args []string) []string {
	out := []string{args[0]}
	i := 1
	flags, cmds := app.Flags, app.Commands
	// global flags, then the command and subcommand names
	for i < len(args) {
		a := args[i]
		if isFlag(a) {
			n := 1
			if takesValue(flags, a) {
				n = 2
			}
			n = min(n, len(args)-i)
			out = append(out, args[i:i+n]...)
			i += n
			continue
		}
		cmd := findCommand(cmds, a)
		if cmd == nil {
			return append(out, args[i:]...)
		}
		out = append(out, a)
		i++
		flags, cmds = cmd.Flags, cmd.Subcommands
		if len(cmds) == 0 {
			break
		}
	}
	var positional []string
	for ; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i:]...)
			i = len(args)
		case isFlag(a):
			out = append(out, a)
			if takesValue(flags, a) && i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
		default:
			positional = append(positional, a)
		}
	}
	return append(out, positional...)
}

func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' && a != "--" }

// takesValue reports whether flag a (without "=value") needs the next word.
func takesValue(flags []cli.Flag, a string) bool {
	name := strings.TrimLeft(a, "-")
	if strings.Contains(name, "=") {
		return false
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				v, ok := f.(interface{ TakesValue() bool })
				return ok && v.TakesValue()
			}
		}
	}
	return false
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
