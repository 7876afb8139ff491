package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/session"
	"github.com/h2o-kv/h2o/stream"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

const streamDescription = "Appends every turn of every question as \"USER: <turn>\\n\\nASSISTANT: \" (with BOS, as the recipe's\n" +
	"tokenizer) to one conversation and answers it greedily, streaming words to stdout. With an evicting\n" +
	"policy the cache keeps its budget forever; with --mode full it grows until the context is full, which\n" +
	"ends the run with an error (the recipe's expected failure). Progress and the summary go to stderr."

// streamCommand is the recipe's "infinite" streaming demo (run_streaming.py).
func streamCommand() *cli.Command {
	return newCommand(cmdStream, "stream", "the recipe's streaming demo: all MT-Bench turns as one endless conversation, with live progress", streamDescription, streamAction)
}

func streamAction(c *cli.Context) error {
	req, err := rollingRequest(c, h2o.Full)
	if err != nil {
		return err
	}
	opts, err := sessionOptions(c, req)
	if err != nil {
		return err
	}
	path, err := stream.ResolveInput(questionsPath(c))
	if err != nil {
		return err
	}
	qs, err := stream.Load(path)
	if err != nil {
		return err
	}
	turns := stream.Flatten(qs)

	var statsOut *os.File
	if p := c.String("json-stats"); p != "" {
		if statsOut, err = os.Create(p); err != nil {
			return err
		}
		defer statsOut.Close()
	}
	s, closeAll, err := openSession(c, opts)
	if err != nil {
		return err
	}
	defer closeAll()
	m := s.Model()

	pol := s.Options().Resolved()
	budget := pol.Budget
	if !pol.Evicts() {
		budget = s.Context().NCtx()
	}
	info := m.Info()
	fmt.Fprintf(os.Stderr, "h2o: %s (%d layers, trained context %d) | policy %s rolling=%v | %d KV cells, K %s\n",
		m.Path(), info.NLayer, info.NCtxTrain, pol, pol.Rolling, s.Context().NCtx(), s.Options().TypeK)
	fmt.Fprintf(os.Stderr, "h2o: %s: %d questions, %d turns x %d loops, max %d new tokens per turn\n",
		path, len(qs), len(turns), c.Int("loop"), c.Int("max-gen-len"))

	cfg := stream.Config{
		MaxGenLen: c.Int("max-gen-len"), Loops: c.Int("loop"), Budget: budget,
		EvictForSpace: pol.Evicts() && !c.Bool("no-evict-for-space"),
		Memory:        stream.MemorySampler(binding.HasGPU()),
		Progress:      progressReporter(c.Bool("quiet")),
	}
	if !c.Bool("quiet") {
		cfg.Text = os.Stdout
	}
	if statsOut != nil {
		cfg.Stats = statsOut
	}

	// Ctrl-C ends the run cleanly: terminal restored, summary printed.
	ctx, stop := interruptible()
	defer stop()
	res, runErr := stream.Run(ctx, s, m, turns, cfg)
	cfg.Progress.Close()
	fmt.Fprintln(os.Stderr)
	if err := stream.WriteSummary(os.Stderr, res); err != nil {
		return err
	}
	warnPastTrained(m, s.Stats())
	if statsOut != nil {
		if err := statsOut.Close(); err != nil && runErr == nil {
			runErr = err
		}
	}
	switch {
	case runErr == nil:
		return nil
	case errors.Is(runErr, context.Canceled):
		return interrupted(fmt.Sprintf("stream: interrupted at %v", runErr))
	case errors.Is(runErr, session.ErrContextFull):
		return fmt.Errorf("stream: the %s cache ran out of room at %v", pol.Policy, runErr)
	}
	return fmt.Errorf("stream: %w", runErr)
}

// defaultQuestionsDir is the MT-Bench questions looked up in ../shared.
const defaultQuestionsDir = "data/mt_bench"

// questionsPath is --input-path, else ../shared's questions (see sharedPath), else the recipe's data/.
func questionsPath(c *cli.Context) string {
	if p := c.String("input-path"); p != "" {
		return p
	}
	if p, ok := sharedPath(defaultQuestionsDir); ok {
		fmt.Fprintf(os.Stderr, "h2o: no --input-path given: using %s\n", p)
		return p
	}
	return "data/"
}

// progressReporter refreshes a status line in place when stderr is a
// terminal (on its last row when the text shares it), else prints a line
// per sample.
func progressReporter(quiet bool) stream.Reporter {
	fd := int(os.Stderr.Fd())
	if !term.IsTerminal(fd) {
		return stream.NewLineReporter(os.Stderr)
	}
	size := func() (int, int, error) { return term.GetSize(fd) }
	return stream.NewTTYReporter(os.Stderr, size, !quiet && sameTerminal(os.Stdout, os.Stderr))
}

// sameTerminal reports whether a and b are the same terminal device.
func sameTerminal(a, b *os.File) bool {
	if !term.IsTerminal(int(a.Fd())) {
		return false
	}
	sa, err1 := a.Stat()
	sb, err2 := b.Stat()
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
