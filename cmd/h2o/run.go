package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/h2o-kv/h2o/session"
	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

const defaultPrompt = "The Debian package management system"

const runDescription = "Feeds the prompt, then samples --n-predict tokens while the cache keeps at most the budget:\n" +
	"the heavy hitters (most attended tokens) and the most recent ones. Every evicting policy rolls\n" +
	"positions unless --enable_position_rolling=false. Ctrl-C stops the run and prints the text so\n" +
	"far. Without -m the evaluation model in ../shared/models is used."

// runCommand is the main job: one H2O generation end to end with progress.
func runCommand() *cli.Command {
	return newCommand(cmdRun, "run", "generate text with H2O eviction (default: h2o, budget 128, rolling) and show its progress", runDescription, runAction)
}

func runAction(c *cli.Context) error {
	_, opts, err := generationOptions(c)
	if err != nil {
		return err
	}
	prompt := c.String("prompt")
	if f := c.String("file"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		prompt = string(b)
	}
	s, closeAll, err := openSession(c, opts)
	if err != nil {
		return err
	}
	defer closeAll()
	m := s.Model()
	info := m.Info()
	pol := s.Options().Resolved()
	fmt.Fprintf(os.Stderr, "h2o: %s (%s, %d layers, trained context %d) | policy %s rolling=%v | %d KV cells, K %s\n",
		m.Path(), info.Description, info.NLayer, info.NCtxTrain, pol, pol.Rolling,
		s.Context().NCtx(), s.Options().TypeK)

	toks, err := m.Tokenize(prompt, true, false)
	if err != nil {
		return err
	}
	ctx, stop := interruptible()
	defer stop()
	s.SetFeedProgress(feedProgress(ctx.Done()))
	if err := s.Feed(toks); err != nil && !errors.Is(err, session.ErrInterrupted) {
		return err
	}
	// llama.cpp's -n: 0 generates nothing, -1 until EOS (or Ctrl-C), printed as it comes.
	n := c.Int("n-predict")
	gen := session.GenOptions{MaxTokens: max(n, 0), TextOnly: true, Sampling: session.Sampling{Temperature: c.Float64("temp"), TopP: c.Float64("top-p"), Seed: c.Uint64("seed")}}
	streaming := c.Bool("stream") || n < 0
	going := func() bool { return ctx.Err() == nil }
	var onPiece func(string) bool
	var bar *progressbar.ProgressBar
	switch {
	case streaming:
		fmt.Print(prompt)
		onPiece = func(p string) bool { fmt.Print(p); return going() }
	case !term.IsTerminal(int(os.Stderr.Fd())):
		// a log, not a terminal: a plain line every tenth of the run
		done := 0
		onPiece = func(string) bool {
			done++
			if done%max(n/10, 1) == 0 {
				st := s.Stats()
				fmt.Fprintf(os.Stderr, "h2o: %d/%d tokens, cache %d, evicted %d\n", done, n, st.CacheUsed, st.Evictions)
			}
			return going()
		}
	default:
		bar = progressbar.NewOptions(n, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription("generating"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("tok"),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		onPiece = func(string) bool {
			st := s.Stats()
			bar.Describe(fmt.Sprintf("cache %d/%d, evicted %d", st.CacheUsed, max(pol.Budget, st.CacheUsed), st.Evictions))
			bar.Add(1)
			return going()
		}
	}
	var res session.Result
	if n != 0 && ctx.Err() == nil {
		res, err = s.Generate(gen, onPiece)
	}
	if !streaming {
		if bar != nil {
			bar.Finish()
		}
		fmt.Print(prompt)
		fmt.Print(res.Text)
	}
	fmt.Println()
	st := s.Stats()
	finish := string(res.Finish)
	switch {
	case ctx.Err() != nil:
		finish = "interrupted"
	case n == 0:
		finish = "none (-n 0)"
	}
	fmt.Fprintf(os.Stderr, "h2o: prompt %d tokens (%.1f t/s) | generated %d tokens (%.1f t/s) | cache %d tokens (budget %d) | %d evictions | finish: %s\n",
		st.PromptTokens, st.PromptTPS(), res.NTokens, st.GenTPS(), st.CacheUsed, pol.Budget, st.Evictions, finish)
	warnPastTrained(m, st)
	if err == nil && ctx.Err() != nil {
		return interrupted(fmt.Sprintf("run: interrupted after %d tokens", res.NTokens))
	}
	return err
}
