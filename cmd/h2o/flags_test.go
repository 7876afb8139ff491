package main

import (
	"testing"

	"github.com/h2o-kv/h2o/h2o"
	"github.com/urfave/cli/v2"
)

// parsePolicy runs the policy flags through a throwaway command.
func parsePolicy(t *testing.T, args ...string) (h2o.Config, error) {
	t.Helper()
	var cfg h2o.Config
	var perr error
	app := &cli.App{Flags: policyFlags(-1, 256), Action: func(c *cli.Context) error {
		cfg, perr = policyConfig(c)
		return nil
	}}
	if err := app.Run(append([]string{"h2o"}, args...)); err != nil {
		t.Fatal(err)
	}
	return cfg, perr
}

func TestPolicyFlagsRecipeNames(t *testing.T) {
	cfg, err := parsePolicy(t, "--enable_h2o_generation", "--num_window_length", "100", "--num_heavy_hitter_tokens", "30", "--enable_position_rolling")
	if err != nil || cfg.Policy != h2o.H2O || cfg.Budget != 100 || cfg.HeavyHitters != 30 || cfg.Recent != 70 || !cfg.Rolling {
		t.Fatalf("%+v %v", cfg, err)
	}
	if cfg, _ := parsePolicy(t); cfg.Policy != h2o.Full {
		t.Fatalf("default policy %s, want full", cfg.Policy)
	}
	if cfg, _ := parsePolicy(t, "--enable_h2o_generation"); cfg.HeavyHitters != 128 {
		t.Fatalf("H default %d, want half of 256", cfg.HeavyHitters)
	}
}

func TestPolicyFlagsRecentAndErrors(t *testing.T) {
	if cfg, err := parsePolicy(t, "--mode", "h2o", "--num_window_length", "64", "--recent-share", "0.75"); err != nil || cfg.Recent != 48 || cfg.HeavyHitters != 16 {
		t.Fatalf("recent share: %+v %v", cfg, err)
	}
	if cfg, err := parsePolicy(t, "--mode", "h2o", "--num_window_length", "64", "--recent", "40"); err != nil || cfg.Recent != 40 {
		t.Fatalf("recent: %+v %v", cfg, err)
	}
	if cfg, err := parsePolicy(t, "--mode", "sink", "--num_window_length", "64"); err != nil || cfg.SinkTokens != 4 || cfg.Recent != 60 {
		t.Fatalf("sink: %+v %v", cfg, err)
	}
	for _, bad := range [][]string{
		{"--enable_h2o_generation", "--num_heavy_hitter_tokens", "256"}, // H = B
		{"--mode", "h2o", "--recent-share", "1"},
		{"--mode", "window", "--enable_h2o_generation"},
		{"--mode", "lru"},
		{"--mode", "h2o", "--h2o-score", "median"},
	} {
		if _, err := parsePolicy(t, bad...); err == nil {
			t.Errorf("%v accepted", bad)
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
