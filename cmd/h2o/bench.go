package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/h2o-kv/h2o/bench"
	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/session"
	"github.com/urfave/cli/v2"
)

// benchCommand measures speed and KV memory per cache policy, llama-bench style.
func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "prompt and generation speed and KV memory per cache policy (llama-bench conventions)",
		Description: "Rows: each mode x budget x test. Tests: ppP (prompt of P tokens) and tgN @ dD (N tokens\n" +
			"generated after D tokens of context; an evicting cache holds only its budget of them).\n" +
			"Random token ids are used: speed does not depend on them.",
		Flags: append(modelFlags(),
			&cli.StringFlag{Name: "n-prompt", Aliases: []string{"p"}, Value: "512", Usage: "prompt sizes, comma-separated (0 = none)"},
			&cli.StringFlag{Name: "n-gen", Aliases: []string{"n"}, Value: "128", Usage: "generation sizes (0 = none)"},
			&cli.StringFlag{Name: "n-depth", Aliases: []string{"d"}, Value: "0", Usage: "context depths"},
			&cli.IntFlag{Name: "repetitions", Aliases: []string{"r"}, Value: 5},
			&cli.StringFlag{Name: "modes", Value: "full,h2o", Usage: "policies: full, h2o, window, sink"},
			&cli.StringFlag{Name: "budgets", Value: "2048", Usage: "cache budgets B for evicting modes"},
			&cli.Float64Flag{Name: "heavy-ratio", Value: 0.5, Usage: "h2o heavy hitters as a share of the budget"},
			&cli.BoolFlag{Name: "rolling", Value: true, Usage: "position rolling for evicting modes"},
			&cli.StringFlag{Name: "granularity", Value: "token", Usage: "h2o granularities to compare: token, head (comma-separated)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "md", Usage: "md or json"},
			&cli.StringFlag{Name: "note", Value: "", Usage: "a line printed under the table (e.g. 'random weights: speed only')"},
			&cli.BoolFlag{Name: "scores", Usage: "also collect attention scores in modes that do not need them (measures the patch's cost)"},
			&cli.BoolFlag{Name: "profile-ops", Usage: "with --parallel: time every graph node of the decode steps and print where a step's time goes (each node then runs alone and is waited for: slower, not a speed measurement)"},
			&cli.StringFlag{Name: "parallel", Aliases: []string{"np"}, Usage: "batched throughput instead: N sequences (list, and/or auto = as many as fit in memory) each read a prompt of -p tokens, then generate -n tokens together"},
		),
		Action: benchAction,
	}
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.Atoi(strings.TrimSuffix(strings.ToLower(f), "k"))
		if err != nil || v < 0 {
			return nil, fmt.Errorf("bad number %q in %q", f, s)
		}
		if strings.HasSuffix(strings.ToLower(f), "k") {
			v *= 1024
		}
		out = append(out, v)
	}
	return out, nil
}

func benchAction(c *cli.Context) error {
	if c.Bool("profile-ops") && !c.IsSet("parallel") {
		return errors.New("--profile-ops times the decode steps of a batched test: use it with --parallel")
	}
	prompts, err := intList(c.String("n-prompt"))
	if err != nil {
		return err
	}
	gens, err := intList(c.String("n-gen"))
	if err != nil {
		return err
	}
	depths, err := intList(c.String("n-depth"))
	if err != nil {
		return err
	}
	budgets, err := intList(c.String("budgets"))
	if err != nil {
		return err
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
	var grans []h2o.Granularity
	for _, g := range splitList(c.String("granularity")) {
		gran, err := h2o.ParseGranularity(g)
		if err != nil {
			return err
		}
		grans = append(grans, gran)
	}
	if len(grans) == 0 {
		return fmt.Errorf("--granularity %q names none", c.String("granularity"))
	}
	var configs []h2o.Config
	for _, name := range strings.Split(c.String("modes"), ",") {
		pol, err := h2o.ParsePolicy(strings.TrimSpace(name))
		if err != nil {
			return err
		}
		if pol == h2o.Full {
			configs = append(configs, h2o.Config{Policy: pol})
			continue
		}
		for _, b := range budgets {
			for i, gran := range grans {
				if pol != h2o.H2O {
					if i > 0 {
						break // one granularity: window and sink keep the same tokens in every head
					}
					gran = h2o.PerToken
				}
				cfg, err := h2o.Config{Policy: pol, Budget: b, HeavyHitters: int(c.Float64("heavy-ratio") * float64(b)), Rolling: c.Bool("rolling"), Granularity: gran}.Normalize()
				if err != nil {
					return err
				}
				configs = append(configs, cfg)
			}
		}
	}
	m, err := loadModel(c)
	if err != nil {
		return err
	}
	defer m.Close()
	if c.IsSet("parallel") {
		return benchParallel(c, m, configs, prompts, gens)
	}
	var rows []bench.Result
	for _, cfg := range configs {
		for _, t := range tests {
			r := bench.Run(m, benchOptions(c, cfg), t, c.Int("repetitions"), 42)
			fmt.Fprintf(os.Stderr, "bench: %-22s %-14s %10.2f t/s %v\n", r.Mode, r.Test, r.Mean(), errText(r.Err))
			rows = append(rows, r)
		}
	}
	env := bench.NewEnv(m, c.Int("n-gpu-layers"), c.String("note"))
	if c.String("output") == "json" {
		return bench.WriteJSON(os.Stdout, env, rows)
	}
	bench.WriteMarkdown(os.Stdout, env, rows)
	return nil
}

func benchOptions(c *cli.Context, cfg h2o.Config) session.Options {
	opts := session.Options{Policy: cfg, Chunk: c.Int("batch-size"), NCtx: c.Int("ctx-size"), Threads: c.Int("threads"),
		FlashAttn: c.String("flash-attn"), TypeK: c.String("cache-type-k"), TypeV: c.String("cache-type-v")}
	if c.Bool("scores") {
		opts.Scores = binding.ScoresKVHead
	}
	return opts
}

// benchParallel runs the batched tests: every mode x prompt x generation x N.
func benchParallel(c *cli.Context, m *binding.Model, configs []h2o.Config, prompts, gens []int) error {
	var rows []bench.ParallelResult
	for _, cfg := range configs {
		for _, p := range prompts {
			for _, g := range gens {
				opts := benchOptions(c, cfg)
				if !cfg.Evicts() && opts.NCtx == 0 {
					opts.NCtx = p + g
				}
				ns, err := parallelList(c.String("parallel"), m, opts, c.Int("n-gpu-layers") != 0)
				if err != nil {
					return err
				}
				for _, n := range ns {
					if c.Bool("profile-ops") {
						opts.Profile = binding.NewOpProfile()
					}
					r := bench.RunParallel(m, opts, bench.ParallelTest{N: n, Prompt: p, Gen: g}, 42, os.Stderr)
					if opts.Profile != nil {
						bench.WriteOpProfile(os.Stderr, r)
						opts.Profile.Close()
					}
					fmt.Fprintf(os.Stderr, "bench: %-22s %-22s prefill %9.1f t/s, decode %9.1f t/s, peak VRAM %.2f GiB %v\n",
						r.Mode, r.Test, r.PrefillTPS, r.DecodeTPS, float64(r.PeakVRAM)/(1<<30), errText(r.Err))
					rows = append(rows, r)
				}
			}
		}
	}
	env := bench.NewEnv(m, c.Int("n-gpu-layers"), c.String("note"))
	if c.String("output") == "json" {
		return bench.WriteParallelJSON(os.Stdout, env, rows)
	}
	bench.WriteParallelMarkdown(os.Stdout, env, rows)
	return nil
}

// parallelList reads --parallel: numbers and auto (the memory plan's N, said on stderr).
func parallelList(s string, m *binding.Model, opts session.Options, onGPU bool) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "auto" {
			n, err := autoParallel(m, opts, onGPU)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 256 {
			return nil, fmt.Errorf("--parallel %q: want numbers from 1 to 256 or auto", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// autoParallel is the memory plan's number of sequences, said on stderr.
func autoParallel(m *binding.Model, opts session.Options, onGPU bool) (int, error) {
	plan, err := session.PlanParallel(m.Info(), opts, onGPU)
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
