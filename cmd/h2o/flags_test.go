package main

import (
	"strings"
	"testing"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/urfave/cli/v2"
)

// parseWith runs args through a throwaway command with cmd's flags and
// returns what action makes of them.
func parseWith[T any](t *testing.T, cmd command, action func(*cli.Context) (T, error), args ...string) (T, error) {
	t.Helper()
	var out T
	var aerr error
	app := &cli.App{Flags: flagsFor(cmd), Action: func(c *cli.Context) error {
		out, aerr = action(c)
		return nil
	}}
	if err := app.Run(append([]string{"h2o"}, args...)); err != nil {
		return out, err
	}
	return out, aerr
}

// parsePolicy resolves the policy the stream command's flags ask for.
func parsePolicy(t *testing.T, args ...string) (h2o.Resolved, error) {
	t.Helper()
	return parseWith(t, cmdStream, func(c *cli.Context) (h2o.Resolved, error) {
		req, err := generationRequest(c, h2o.Full, false)
		if err != nil {
			return h2o.Resolved{}, err
		}
		return req.Resolve()
	}, args...)
}

func TestPolicyFlagsRecipeNames(t *testing.T) {
	cfg, err := parsePolicy(t, "--enable_h2o_generation", "--num_window_length", "100", "--num_heavy_hitter_tokens", "30", "--enable_position_rolling")
	if err != nil || cfg.Policy != h2o.H2O || cfg.Budget != 100 || cfg.HeavyHitters != 30 || cfg.Recent != 70 || !cfg.Rolling {
		t.Fatalf("%+v %v", cfg, err)
	}
	if cfg, _ := parsePolicy(t); cfg.Policy != h2o.Full {
		t.Fatalf("default policy %s, want full", cfg.Policy)
	}
	if cfg, _ := parsePolicy(t, "--enable_h2o_generation", "--num_heavy_hitter_tokens", "-1", "--num_window_length", "101"); cfg.HeavyHitters != 50 || cfg.Recent != 51 {
		t.Fatalf("-1 is half the window: %+v", cfg)
	}
}

func TestPolicyFlagsRecentAndErrors(t *testing.T) {
	if cfg, err := parsePolicy(t, "--mode", "h2o", "--num_window_length", "64", "--recent-share", "0.75"); err != nil || cfg.Recent != 48 || cfg.HeavyHitters != 16 {
		t.Fatalf("recent share: %+v %v", cfg, err)
	}
	if cfg, err := parsePolicy(t, "--mode", "h2o", "--num_window_length", "64", "--recent", "40"); err != nil || cfg.Recent != 40 || cfg.HeavyHitters != 24 {
		t.Fatalf("recent: %+v %v", cfg, err)
	}
	if cfg, err := parsePolicy(t, "--mode", "h2o", "--budget", "64", "--recent", "40", "--heavy", "24"); err != nil || cfg.Recent != 40 || cfg.HeavyHitters != 24 {
		t.Fatalf("heavy and recent that fill the budget: %+v %v", cfg, err)
	}
	if cfg, err := parsePolicy(t, "--mode", "sink", "--num_window_length", "64"); err != nil || cfg.SinkTokens != 4 || cfg.Recent != 60 {
		t.Fatalf("sink: %+v %v", cfg, err)
	}
	if cfg, err := parsePolicy(t, "--mode", "window", "--budget", "64", "--recent-share", "0.5"); err != nil || cfg.Recent != 32 {
		t.Fatalf("window recent share: %+v %v", cfg, err)
	}
	for _, bad := range [][]string{
		{"--enable_h2o_generation", "--num_heavy_hitter_tokens", "256"}, // H = B
		{"--mode", "h2o", "--recent-share", "1"},
		{"--mode", "h2o", "--recent-share", "0"},
		{"--mode", "window", "--enable_h2o_generation"},
		{"--mode", "lru"},
		{"--mode", "h2o", "--h2o-score", "median"},
		{"--mode", "h2o", "--recent", "500", "--budget", "64"},                 // was H32+R32
		{"--mode", "h2o", "--recent", "40", "--heavy", "30", "--budget", "64"}, // was H30+R34
		{"--mode", "h2o", "--recent", "40", "--recent-share", "0.5"},
		{"--mode", "h2o", "--heavy", "-2"}, // was half
		{"--mode", "window", "--heavy", "30"},
		{"--mode", "full", "--recent", "30"},
		{"--enable_position_rolling"}, // full never evicts
	} {
		if cfg, err := parsePolicy(t, bad...); err == nil {
			t.Errorf("%v accepted: %s", bad, cfg)
		}
	}
}

func TestPolicyFlagsGranularity(t *testing.T) {
	cfg, err := parsePolicy(t, "--mode", "h2o", "--granularity", "head", "--h2o-score", "cum", "--recent-share", "0.5", "--num_window_length", "64")
	if err != nil || cfg.Granularity != h2o.PerHead || cfg.Recent != 32 || cfg.HeavyHitters != 32 || cfg.Score.Kind != "cum" {
		t.Fatalf("recipe setting: %+v %v", cfg, err)
	}
	if cfg, _ := parsePolicy(t, "--mode", "h2o"); cfg.Granularity != h2o.PerToken {
		t.Fatalf("default granularity %s", cfg.Granularity)
	}
	for _, bad := range [][]string{
		{"--mode", "h2o", "--granularity", "layer"},
		{"--mode", "window", "--granularity", "head"},
		{"--granularity", "head"}, // full
		{"--mode", "h2o", "--granularity", "head", "--h2o-aggregate", "max"},
	} {
		if _, err := parsePolicy(t, bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// rollingPolicy resolves the policy of a command using rollingRequest.
func rollingPolicy(t *testing.T, cmd command, def h2o.Policy, args ...string) (h2o.Resolved, error) {
	t.Helper()
	return parseWith(t, cmd, func(c *cli.Context) (h2o.Resolved, error) {
		req, err := rollingRequest(c, def)
		if err != nil {
			return h2o.Resolved{}, err
		}
		return req.Resolve()
	}, args...)
}

// run's defaults: h2o, budget 128, and rolling with any evicting policy
// however it is named.
func TestRunDefaults(t *testing.T) {
	runPolicy := func(args ...string) (h2o.Resolved, error) { return rollingPolicy(t, cmdRun, h2o.H2O, args...) }
	if cfg, err := runPolicy(); err != nil || cfg.String() != "h2o B=128 H=64 R=64" || !cfg.Rolling {
		t.Fatalf("run default: %+v %v", cfg, err)
	}
	for _, flag := range []string{"--enable_h2o_generation", "--mode=h2o", "--mode=window"} {
		if cfg, err := runPolicy(flag); err != nil || !cfg.Rolling {
			t.Fatalf("run %s rolls as plain run does: %+v %v", flag, cfg, err)
		}
	}
	if cfg, err := runPolicy("--h2o", "--enable_position_rolling=false"); err != nil || cfg.Rolling {
		t.Fatalf("rolling turned off: %+v %v", cfg, err)
	}
	if cfg, err := runPolicy("--mode", "full"); err != nil || cfg.Evicts() {
		t.Fatalf("run --mode full: %+v %v", cfg, err)
	}
}

// Each command accepts exactly the flags it honours.
func TestFlagScopes(t *testing.T) {
	accepts := func(cmd command, args ...string) bool {
		_, err := parseWith(t, cmd, func(*cli.Context) (bool, error) { return true, nil }, args...)
		return err == nil || !strings.Contains(err.Error(), "flag provided but not defined")
	}
	recipe := []string{"--enable_h2o_generation", "--num_heavy_hitter_tokens", "8", "--num_window_length", "16", "--enable_position_rolling"}
	llama := []string{"-m", "x.gguf", "-ngl", "0", "-c", "64", "-t", "1", "-fa", "off", "-ctk", "f16", "-ctv", "f16", "-b", "8", "-ub", "8"}
	for _, cmd := range []command{cmdRun, cmdStream, cmdSummarize, cmdPPL} {
		if !accepts(cmd, append(recipe, llama...)...) {
			t.Errorf("command %b refuses the recipe's or llama.cpp's flags", cmd)
		}
	}
	if !accepts(cmdBench, llama...) {
		t.Error("bench refuses llama.cpp's flags")
	}
	if !accepts(cmdSummarize, "--input-path", "in.jsonl", "--output-path", "out.jsonl", "--model-name", "x.gguf", "--sample_num", "3", "--seed", "1") {
		t.Error("summarize refuses the recipe's flags")
	}
	for _, c := range []struct {
		cmd  command
		args []string
	}{
		{cmdAttn, []string{"--num_window_length", "16"}},
		{cmdAttn, []string{"--mode", "h2o"}},
		{cmdAttn, []string{"-c", "64"}},
		{cmdBench, []string{"--prefill", "full"}},
		{cmdBench, []string{"--h2o-score", "mean"}},
		{cmdRun, []string{"--budgets", "64"}},
		{cmdStream, []string{"--seed", "1"}},
	} {
		if accepts(c.cmd, c.args...) {
			t.Errorf("command %b accepts %v, which it ignores", c.cmd, c.args)
		}
	}
	if fa, _ := parseWith(t, cmdPPL, func(c *cli.Context) (string, error) { return c.String("flash-attn"), nil }); fa != "off" {
		t.Errorf("ppl flash attention default %q, want off", fa)
	}
}

func TestFlagTableOneEntryPerCommand(t *testing.T) {
	for bit := command(1); bit <= cmdGGUFConvert; bit <<= 1 {
		seen := map[string]bool{}
		for _, f := range flagsFor(bit) {
			for _, n := range f.Names() {
				if seen[n] {
					t.Errorf("command %b: flag name %s twice", bit, n)
				}
				seen[n] = true
			}
		}
	}
}

// ppl's grid: --heavy-ratio gives the split unless another flag does, and
// never together with a contradicting one.
func TestPPLSweep(t *testing.T) {
	runs := func(args ...string) ([]h2o.Config, error) {
		return parseWith(t, cmdPPL, func(c *cli.Context) ([]h2o.Config, error) {
			policies, err := pplPolicies(c)
			if err != nil {
				return nil, err
			}
			req, err := policyRequest(c, policies[0], c.Bool("beyond"))
			if err != nil {
				return nil, err
			}
			sw, err := pplSweep(c, req, policies)
			if err != nil {
				return nil, err
			}
			sw.Budgets = []int{64}
			return sw.Expand()
		}, args...)
	}
	resolveAll := func(reqs []h2o.Config) ([]string, error) {
		var out []string
		for _, r := range reqs {
			p, err := r.Resolve()
			if err != nil {
				return nil, err
			}
			out = append(out, p.String())
		}
		return out, nil
	}
	reqs, err := runs("--heavy-ratio", "0.25,0.5", "--policies", "full,h2o,sink")
	got, rerr := resolveAll(reqs)
	if want := "full|h2o B=64 H=16 R=48|h2o B=64 H=32 R=32|sink B=64 S=4 R=60"; err != nil || rerr != nil || strings.Join(got, "|") != want {
		t.Fatalf("grid %q (%v %v), want %q", got, err, rerr, want)
	}
	reqs, err = runs("--mode", "h2o", "--recent", "48")
	if got, rerr := resolveAll(reqs); err != nil || rerr != nil || strings.Join(got, "|") != "h2o B=64 H=16 R=48" {
		t.Fatalf("--recent replaces the default ratio: %q %v %v", got, err, rerr)
	}
	reqs, err = runs("--mode", "h2o", "--recent", "48", "--heavy-ratio", "0.5")
	if _, rerr := resolveAll(reqs); err == nil && rerr == nil {
		t.Fatal("--heavy-ratio 0.5 next to --recent 48 of 64 accepted")
	}
	if _, err := runs("--policies", "full,window", "--heavy-ratio", "0.25"); err == nil {
		t.Fatal("--heavy-ratio without h2o accepted")
	}
	if _, err := runs("--mode", "full", "--recent", "8"); err == nil {
		t.Fatal("--recent with only the full cache accepted")
	}
	if _, err := runs("--mode", "h2o", "--policies", "window"); err == nil {
		t.Fatal("--mode next to --policies accepted")
	}
	if _, err := runs("--mode", "h2o", "--granularity", "head", "--h2o-aggregate", "max"); err == nil {
		t.Fatal("head granularity without the sum aggregation accepted")
	}
	reqs, err = runs("--mode", "h2o", "--beyond")
	if err != nil || len(reqs) != 1 || !reqs[0].Rolling {
		t.Fatalf("--beyond turns rolling on: %+v %v", reqs, err)
	}
}

// Every numeric flag of the table has a range, and a value outside it is
// refused by name before the command runs.
func TestEveryNumericFlagHasARange(t *testing.T) {
	for _, o := range flagTable() {
		switch o.flag.(type) {
		case *cli.IntFlag, *cli.Int64Flag, *cli.Uint64Flag, *cli.Float64Flag:
			if _, ok := flagRanges[o.flag.Names()[0]]; !ok {
				t.Errorf("--%s has no entry in flagRanges", o.flag.Names()[0])
			}
		}
	}
	run := func(args ...string) error {
		app := &cli.App{Commands: commands()}
		return app.Run(flagsFirst(app, append([]string{"h2o"}, args...)))
	}
	for _, args := range [][]string{
		{"run", "-c", "-5"}, {"run", "-t", "-1"}, {"run", "-ngl", "-2"}, {"run", "--temp", "-1"}, {"run", "--top-p", "2"},
		{"run", "-n", "-2"}, {"bench", "-r", "0"}, {"attn", "--top", "-3"}, {"stream", "--loop", "0"},
		{"ppl", "-j", "0"}, {"summarize", "--input-path", "x", "--shots", "-1"}, {"gguf", "random", "-o", "x", "--layers", "-3"},
	} {
		err := run(args...)
		if err == nil || !strings.Contains(err.Error(), "--") || !strings.Contains(err.Error(), "want") {
			t.Errorf("%v: %v, want a range error", args, err)
		}
	}
}

// Flags are taken anywhere on the line; words after "--" stay arguments.
func TestFlagsFirst(t *testing.T) {
	app := &cli.App{Flags: []cli.Flag{&cli.StringFlag{Name: "cpuprofile"}}, Commands: commands()}
	for _, tc := range []struct{ in, want string }{
		{"h2o run -m M extra -n 5", "h2o run -m M -n 5 extra"},
		{"h2o ppl FILE --budgets 64 --kl=false DIR", "h2o ppl --budgets 64 --kl=false FILE DIR"},
		{"h2o ppl FILE --concat -t 2", "h2o ppl --concat -t 2 FILE"},
		{"h2o --cpuprofile p ppl A -- -B --docs", "h2o --cpuprofile p ppl A -- -B --docs"},
		{"h2o gguf info F --x", "h2o gguf info --x F"},
		{"h2o attn --top -3", "h2o attn --top -3"},
	} {
		if got := strings.Join(flagsFirst(app, strings.Fields(tc.in)), " "); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.in, got, tc.want)
		}
	}
}

// stream: full by default; an evicting policy rolls and takes half the
// budget as heavy hitters, so any budget works.
func TestStreamDefaults(t *testing.T) {
	streamPolicy := func(args ...string) (h2o.Resolved, error) { return rollingPolicy(t, cmdStream, h2o.Full, args...) }
	if cfg, err := streamPolicy(); err != nil || cfg.Evicts() || cfg.Rolling {
		t.Fatalf("stream default: %+v %v", cfg, err)
	}
	if cfg, err := streamPolicy("--mode", "h2o", "--budget", "64"); err != nil || cfg.HeavyHitters != 32 || !cfg.Rolling {
		t.Fatalf("stream h2o B=64: %+v %v", cfg, err)
	}
	if cfg, err := streamPolicy("--mode", "sink", "--budget", "64", "--enable_position_rolling=false"); err != nil || cfg.Rolling {
		t.Fatalf("rolling turned off: %+v %v", cfg, err)
	}
}

// The rules' flags: tova takes its own score rule and aggregation unless
// they are given, the prompt rule is parsed, and ppl's prompt rules need a
// prompt.
func TestRuleFlags(t *testing.T) {
	cfg, err := parsePolicy(t, "--mode", "tova", "--budget", "64")
	if err != nil || cfg.Name() != h2o.TOVA || cfg.Score.Kind != "last" || cfg.Aggregate != h2o.AggLayerMean || cfg.Recent != 1 {
		t.Fatalf("tova: %+v %v", cfg, err)
	}
	if _, err := parsePolicy(t, "--mode", "tova", "--budget", "64", "--h2o-score", "cum"); err == nil {
		t.Fatal("tova with the cum score rule accepted")
	}
	cfg, err = parsePolicy(t, "--mode", "knorm", "--budget", "64", "--prefill-score", "snapkv:16")
	if err != nil || cfg.Policy != h2o.Knorm || cfg.Prompt != (h2o.PromptRule{Kind: "snapkv", Window: 16}) {
		t.Fatalf("knorm with snapkv: %+v %v", cfg, err)
	}
	sweep := func(args ...string) (h2o.Sweep, error) {
		return parseWith(t, cmdPPL, func(c *cli.Context) (h2o.Sweep, error) {
			return pplSweep(c, h2o.Config{}, []h2o.Policy{h2o.Full, h2o.Window})
		}, args...)
	}
	if _, err := sweep("--prefill-score", "none,snapkv:8"); err == nil {
		t.Fatal("ppl prompt rules without --prompt-tokens accepted")
	}
	if sw, err := sweep("--prefill-score", "none,snapkv:8", "--prompt-tokens", "64"); err != nil || len(sw.Prompts) != 2 {
		t.Fatalf("ppl prompt rules: %+v %v", sw.Prompts, err)
	}
}

// The llama.cpp split flags on a command that loads a model.
func TestSplitFlags(t *testing.T) {
	p, err := parseWith(t, cmdBench, modelParams, "-ngl", "99", "-sm", "row", "-ts", "3/1", "-mg", "1")
	if err != nil {
		t.Fatal(err)
	}
	if p.GPULayers != 99 || p.Split != binding.SplitRow || p.MainGPU != 1 || len(p.TensorSplit) != 2 || p.TensorSplit[0] != 3 || p.TensorSplit[1] != 1 {
		t.Fatalf("parsed %+v", p)
	}
	if p, err = parseWith(t, cmdRun, modelParams); err != nil || p.Split != binding.SplitLayer || p.TensorSplit != nil || p.MainGPU != 0 {
		t.Fatalf("defaults %+v, %v", p, err)
	}
	for _, c := range []struct{ args, want string }{
		{"--split-mode rows", "--split-mode"},
		{"-ts 1,x", "not a share"},
		{"-ts 0,0", "sum to 0"},
		{"-ts -1,2", "not a share"},
	} {
		if _, err := parseWith(t, cmdServe, modelParams, strings.Fields(c.args)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.args, err, c.want)
		}
	}
}
