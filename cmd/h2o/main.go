// Command h2o runs GGUF Llama models through llama.cpp with H2O
// (Heavy-Hitter Oracle) KV-cache eviction.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/urfave/cli/v2"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "0.1.0-dev"

func main() {
	app := &cli.App{
		Name:                 "h2o",
		Usage:                "LLM inference with Heavy-Hitter Oracle KV-cache eviction (llama.cpp, GGUF)",
		Version:              version,
		EnableBashCompletion: true,
		Commands:             commands(),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a Go CPU profile (pprof) of the command to this file"},
		},
		Before: startProfile,
		After:  stopProfile,
	}
	if err := app.Run(flagsFirst(app, os.Args)); err != nil {
		fmt.Fprintln(os.Stderr, "h2o:", err)
		os.Exit(1)
	}
}

// startProfile starts the --cpuprofile profile, which shows where the Go
// side of a run spends its time (llama.cpp's threads show as cgo calls).
func startProfile(c *cli.Context) error {
	path := c.String("cpuprofile")
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	profileFile = f
	return nil
}

var profileFile *os.File // the --cpuprofile file while profiling

func stopProfile(*cli.Context) error {
	if profileFile == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := profileFile.Close()
	profileFile = nil
	return err
}

// interruptible is a context that Ctrl-C (SIGINT) or SIGTERM cancels, so a
// command can stop cleanly and print what it has; a second signal kills the
// process as usual.
func interruptible() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

// interrupted is the exit of a command stopped by a signal: status 130, as a shell gives.
func interrupted(what string) error {
	return cli.Exit("h2o: "+what, 130)
}
