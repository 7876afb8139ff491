package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/h2o-kv/h2o/bench"
	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/session"
	"github.com/urfave/cli/v2"
)

const benchDescription = "Rows: each mode x budget x test. Tests: ppP (prompt of P tokens) and tgN @ dD (N tokens\n" +
	"generated after D tokens of context; an evicting cache holds only its budget of them).\n" +
	"Random token ids are used: speed does not depend on them."

// benchCommand measures speed and KV memory per cache policy, llama-bench style.
func benchCommand() *cli.Command {
	return newCommand(cmdBench, "bench", "prompt and generation speed and KV memory per cache policy (llama-bench conventions)", benchDescription, benchAction)
}

// intList reads comma-separated counts (a k suffix: times 1024).
func intList(s string) ([]int, error) { return parseList(s, parseCount) }

// outputFormat is -o: md or json.
func outputFormat(c *cli.Context) (string, error) {
	f := c.String("output")
	if f != "md" && f != "json" {
		return "", fmt.Errorf("-o %q: want md or json", f)
	}
	return f, nil
}

func benchAction(c *cli.Context) error {
	if _, err := outputFormat(c); err != nil {
		return err
	}
	if c.Bool("profile-ops") && !c.IsSet("parallel") {
		return errors.New("--profile-ops times the decode steps of a batched test: use it with --parallel")
	}
	var prompts, gens, depths, budgets []int
	for _, l := range []struct {
		flag string
		to   *[]int
	}{{"n-prompt", &prompts}, {"n-gen", &gens}, {"n-depth", &depths}, {"budgets", &budgets}} {
		v, err := intList(c.String(l.flag))
		if err != nil {
			return fmt.Errorf("--%s: %w", l.flag, err)
		}
		*l.to = v
	}
	var tests []bench.Test
	for _, d := range depths {
		for _, p := range prompts {
			if p > 0 {
				tests = append(tests, bench.Test{Prompt: p, Depth: d})
			}
		}
		for _, n := range gens {
			if n > 0 {
				tests = append(tests, bench.Test{Gen: n, Depth: d})
			}
		}
	}
	if len(tests) == 0 && !c.IsSet("parallel") {
		return errors.New("nothing to measure: every -p and -n is 0")
	}
	grans, err := parseList(c.String("granularity"), h2o.ParseGranularity)
	if err != nil {
		return err
	}
	modes, err := parseList(c.String("modes"), h2o.ParsePolicy)
	if err == nil && len(modes) == 0 {
		err = fmt.Errorf("--modes %q names no policy", c.String("modes"))
	}
	if err != nil {
		return err
	}
	configs, err := h2o.Sweep{
		Base:     h2o.Config{HeavyRatio: c.Float64("heavy-ratio"), Rolling: c.Bool("rolling")},
		Policies: modes, Budgets: budgets, Granularities: grans,
	}.Expand()
	if err != nil {
		return err
	}
	m, err := loadModel(c)
	if err != nil {
		return err
	}
	defer m.Close()
	opts, err := benchOptions(c)
	if err != nil {
		return err
	}
	opts = withThreadDefault(c, m, opts)
	warnBenchContext(m, opts, tests)
	ctx, stop := interruptible()
	defer stop()
	if c.IsSet("parallel") {
		return benchParallel(ctx, c, m, opts, configs, prompts, gens)
	}
	var rows []bench.Result
rows:
	for _, cfg := range configs {
		for _, t := range tests {
			opts.Policy = cfg
			r := bench.Run(ctx, m, opts, t, c.Int("repetitions"), 42)
			if errors.Is(r.Err, session.ErrInterrupted) {
				break rows
			}
			fmt.Fprintf(os.Stderr, "bench: %-22s %-14s %10.2f t/s %v\n", r.Mode, r.Test, r.Mean(), errText(r.Err))
			if c.Bool("verbose") && r.Err == nil {
				fmt.Fprintf(os.Stderr, "bench: %s %s: %d of %d timed decodes reused the previous graph\n", r.Mode, r.Test, r.GraphsReused, r.Decodes)
			}
			rows = append(rows, r)
		}
	}
	if err := writeBench(c, m, rows, bench.WriteJSON, bench.WriteMarkdown); err != nil {
		return err
	}
	return benchEnd(ctx, rows, func(r bench.Result) (string, error) { return r.Mode + " " + r.Test.String(), r.Err })
}

// benchEnd is the exit of a bench run once its rows are written: stopped by
// a signal (status 130, with the rows measured before it), or an error (a
// non-zero exit) when rows failed.
func benchEnd[R any](ctx context.Context, rows []R, what func(R) (string, error)) error {
	if ctx.Err() != nil {
		return interrupted(fmt.Sprintf("bench stopped by a signal; the rows measured before it (%d) are written", len(rows)))
	}
	failed, first := 0, ""
	for _, r := range rows {
		if name, err := what(r); err != nil {
			if failed == 0 {
				first = name + ": " + err.Error()
			}
			failed++
		}
	}
	if failed == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d rows failed; the first: %s", failed, len(rows), first)
}

// warnBenchContext says before a long silence when a test reads past the
// trained context, with the size of a full cache for it.
func warnBenchContext(m *binding.Model, opts session.Options, tests []bench.Test) {
	longest := 0
	for _, t := range tests {
		longest = max(longest, t.Depth+t.Prompt+t.Gen)
	}
	info := m.Info()
	if longest <= info.NCtxTrain {
		return
	}
	typeK := cmp.Or(opts.TypeK, "f16")
	fmt.Fprintf(os.Stderr, "h2o: warning: tests reach %d tokens of context, past the model's trained context (%d): positions pass it, "+
		"and a full cache of them holds %.1f MiB of KV (K %s) and attends to all of them at every token\n",
		longest, info.NCtxTrain, float64(session.KVBytes(info, longest, typeK, opts.TypeV))/(1<<20), typeK)
}

// writeBench prints the rows as -o asks: JSON lines or a Markdown table.
func writeBench[R any](c *cli.Context, m *binding.Model, rows []R, asJSON func(io.Writer, bench.Env, []R) error, asMarkdown func(io.Writer, bench.Env, []R)) error {
	env := bench.NewEnv(m, c.Int("n-gpu-layers"), c.String("note"))
	if c.String("output") == "json" {
		return asJSON(os.Stdout, env, rows)
	}
	asMarkdown(os.Stdout, env, rows)
	return nil
}

// benchOptions are the session options of every row: the flags' without a policy.
func benchOptions(c *cli.Context) (session.Options, error) {
	opts, err := sessionOptions(c, h2o.Config{})
	if c.Bool("scores") {
		opts.Scores = binding.ScoresKVHead
	}
	return opts, err
}

// benchParallel runs the batched tests: every mode x prompt x generation x N.
func benchParallel(ctx context.Context, c *cli.Context, m *binding.Model, base session.Options, configs []h2o.Config, prompts, gens []int) error {
	var rows []bench.ParallelResult
rows:
	for _, cfg := range configs {
		for _, p := range prompts {
			for _, g := range gens {
				opts := base
				opts.Policy = cfg
				if !cfg.Evicts() && opts.NCtx == 0 {
					opts.NCtx = p + g
				}
				ns, err := parallelList(c.String("parallel"), m, opts)
				if err != nil {
					return err
				}
				for _, n := range ns {
					if c.Bool("profile-ops") {
						opts.Profile = binding.NewOpProfile()
					}
					r := bench.RunParallel(ctx, m, opts, bench.ParallelTest{N: n, Prompt: p, Gen: g}, 42, os.Stderr)
					if opts.Profile != nil {
						bench.WriteOpProfile(os.Stderr, r)
						opts.Profile.Close()
					}
					if errors.Is(r.Err, session.ErrInterrupted) {
						break rows
					}
					fmt.Fprintf(os.Stderr, "bench: %-22s %-22s prefill %9.1f t/s, decode %9.1f t/s, peak VRAM %.2f GiB %v\n",
						r.Mode, r.Test, r.PrefillTPS, r.DecodeTPS, float64(r.PeakVRAM)/(1<<30), errText(r.Err))
					rows = append(rows, r)
				}
			}
		}
	}
	if err := writeBench(c, m, rows, bench.WriteParallelJSON, bench.WriteParallelMarkdown); err != nil {
		return err
	}
	return benchEnd(ctx, rows, func(r bench.ParallelResult) (string, error) { return r.Mode + " " + r.Test.String(), r.Err })
}

// parallelList reads --parallel: numbers and auto (the memory plan's N, said on stderr).
func parallelList(s string, m *binding.Model, opts session.Options) ([]int, error) {
	return parseList(s, func(f string) (int, error) {
		if f == "auto" {
			return autoParallel(m, opts)
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > binding.MaxSequences() {
			return 0, fmt.Errorf("--parallel %q: want numbers from 1 to %d or auto", f, binding.MaxSequences())
		}
		return n, nil
	})
}

// autoParallel is the memory plan's number of sequences, said on stderr.
func autoParallel(m *binding.Model, opts session.Options) (int, error) {
	plan, err := session.PlanParallel(m, opts)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(os.Stderr, "h2o: --parallel auto for %s: %s\n", opts.Policy, plan)
	return plan.Sequences, nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return "(" + err.Error() + ")"
}
