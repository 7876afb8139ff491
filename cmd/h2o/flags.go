package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/session"
	"github.com/urfave/cli/v2"
)

// defaultModelName is the evaluation model looked up in ../shared/models.
const defaultModelName = "debtext-30m-q8_0.gguf"

// modelFlags are the llama.cpp-style flags shared by every command that runs a model.
func modelFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "model", Aliases: []string{"m", "model-name", "model_name"}, Usage: "GGUF model `FILE` (default: ../shared/models/" + defaultModelName + " when present)"},
		&cli.IntFlag{Name: "n-gpu-layers", Aliases: []string{"ngl"}, Value: 0, Usage: "layers to offload to the GPU (99 = all)"},
		&cli.IntFlag{Name: "ctx-size", Aliases: []string{"c"}, Usage: "KV cells (0 = what the policy needs: budget + chunk, or the trained context)"},
		&cli.IntFlag{Name: "threads", Aliases: []string{"t"}, Usage: "CPU threads (0 = all cores)"},
		&cli.StringFlag{Name: "flash-attn", Aliases: []string{"fa"}, Value: "auto", Usage: "flash attention on|off|auto (h2o: decode steps take scores from its logits; auto = on with GPU layers and f16 keys)"},
		&cli.StringFlag{Name: "cache-type-k", Aliases: []string{"ctk"}, Usage: "K cache type (default f16; f32 when rolling, see docs/DESIGN.md)"},
		&cli.StringFlag{Name: "cache-type-v", Aliases: []string{"ctv"}, Value: "f16", Usage: "V cache type"},
		&cli.IntFlag{Name: "batch-size", Aliases: []string{"b"}, Usage: "prefill chunk / batch size (0 = 256)"},
		&cli.IntFlag{Name: "ubatch-size", Aliases: []string{"ub"}, Usage: "accepted for llama.cpp compatibility; the micro-batch equals the batch size"},
		&cli.BoolFlag{Name: "verbose", Usage: "show llama.cpp's log"},
	}
}

// policyFlags are the eviction flags, with the recipe's names as aliases.
// heavy and window are the command's defaults for H and B.
func policyFlags(heavy, window int) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "mode", Usage: "cache policy: full|h2o|window|sink (default h2o with --enable_h2o_generation, else full)"},
		&cli.BoolFlag{Name: "enable_h2o_generation", Aliases: []string{"enable-h2o-generation", "h2o"}, Usage: "use H2O eviction (the recipe's flag; same as --mode h2o)"},
		&cli.IntFlag{Name: "num_heavy_hitter_tokens", Aliases: []string{"num-heavy-hitter-tokens", "heavy"}, Value: heavy, Usage: "heavy hitters H (-1 = half the window)"},
		&cli.IntFlag{Name: "num_window_length", Aliases: []string{"num-window-length", "budget", "B"}, Value: window, Usage: "cache budget B in tokens (heavy hitters + recent)"},
		&cli.BoolFlag{Name: "enable_position_rolling", Aliases: []string{"enable-position-rolling", "rolling"}, Usage: "kept tokens take their index in the cache as position (generate past the trained context)"},
		&cli.IntFlag{Name: "sink-tokens", Aliases: []string{"keep-first"}, Usage: "first tokens never evicted (sink mode default 4; h2o default 0)"},
		&cli.IntFlag{Name: "recent", Usage: "recent window R (h2o: heavy hitters become B - R; window/sink: 0 = the rest of the budget)"},
		&cli.Float64Flag{Name: "recent-share", Usage: "recent window as a share of the budget, 0 < F < 1 (h2o; the recipe's is 0.5)"},
		&cli.StringFlag{Name: "h2o-score", Value: "cum", Usage: "score rule: cum (recipe) | mean | last | ema:G"},
		&cli.StringFlag{Name: "h2o-aggregate", Value: "sum", Usage: "per-token score from layers/heads: sum | layer-mean | max"},
		granularityFlag(),
		&cli.StringFlag{Name: "prefill", Value: "chunked", Usage: "prompt reading with eviction: chunked (bounded memory) | full (exact recipe, needs the whole prompt in memory)"},
	}
}

// granularityFlag is --granularity, shared by the policy flags and attn.
func granularityFlag() cli.Flag {
	return &cli.StringFlag{Name: "granularity", Value: "token", Usage: "h2o kept sets: token (one for all layers and heads) | head (one per layer and KV head, the recipe's; see docs/DESIGN.md)"}
}

// policyConfig builds the eviction policy from the flags.
func policyConfig(c *cli.Context) (h2o.Config, error) {
	mode := c.String("mode")
	if mode == "" {
		mode = "full"
		if c.Bool("enable_h2o_generation") {
			mode = "h2o"
		}
	} else if c.Bool("enable_h2o_generation") && mode != "h2o" {
		return h2o.Config{}, fmt.Errorf("--enable_h2o_generation contradicts --mode %s", mode)
	}
	pol, err := h2o.ParsePolicy(mode)
	if err != nil {
		return h2o.Config{}, err
	}
	score, err := h2o.ParseScoreRule(c.String("h2o-score"))
	if err != nil {
		return h2o.Config{}, err
	}
	agg, err := h2o.ParseAggregate(c.String("h2o-aggregate"))
	if err != nil {
		return h2o.Config{}, err
	}
	gran, err := h2o.ParseGranularity(c.String("granularity"))
	if err != nil {
		return h2o.Config{}, err
	}
	budget := c.Int("num_window_length")
	heavy := c.Int("num_heavy_hitter_tokens")
	if pol == h2o.H2O && (c.IsSet("recent-share") || c.IsSet("recent")) {
		heavy = heavyFor(c, budget, -1)
	}
	if f := c.Float64("recent-share"); c.IsSet("recent-share") && (f <= 0 || f >= 1) {
		return h2o.Config{}, fmt.Errorf("--recent-share %g: want 0 < F < 1", f)
	}
	cfg := h2o.Config{
		Policy: pol, Budget: budget, HeavyHitters: heavy,
		Recent: recentFor(pol, c.Int("recent")), SinkTokens: c.Int("sink-tokens"), Rolling: c.Bool("enable_position_rolling"),
		Aggregate: agg, Score: score, Granularity: gran,
	}
	return cfg.Normalize()
}

// sessionOptions gathers the session options from model and policy flags.
func sessionOptions(c *cli.Context) (session.Options, error) {
	cfg, err := policyConfig(c)
	if err != nil {
		return session.Options{}, err
	}
	prefill, err := session.ParsePrefillMode(c.String("prefill"))
	if err != nil {
		return session.Options{}, err
	}
	return session.Options{
		Policy: cfg, Prefill: prefill, Chunk: c.Int("batch-size"), NCtx: c.Int("ctx-size"),
		Threads: c.Int("threads"), FlashAttn: c.String("flash-attn"),
		TypeK: c.String("cache-type-k"), TypeV: c.String("cache-type-v"),
	}, nil
}

// resolveModelPath picks -m, else the evaluation model in ../shared/models
// (next to the repository holding this binary, or the working directory).
func resolveModelPath(c *cli.Context) (string, error) {
	if p := c.String("model"); p != "" {
		return p, nil
	}
	var candidates []string
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), "..", "..", "shared", "models", defaultModelName))
	}
	candidates = append(candidates, filepath.Join("..", "shared", "models", defaultModelName))
	for _, p := range candidates {
		if _, err := os.Stat(p); err == nil {
			p = filepath.Clean(p)
			fmt.Fprintf(os.Stderr, "h2o: no -m given: using the evaluation model %s\n", p)
			return p, nil
		}
	}
	return "", errors.New("no model: pass a GGUF file with -m FILE (the default evaluation model ../shared/models/" + defaultModelName + " is not present)")
}

// loadModel loads the model named by the flags.
func loadModel(c *cli.Context) (*binding.Model, error) {
	level := binding.LogError
	if c.Bool("verbose") {
		level = binding.LogInfo
	}
	binding.Init(level)
	path, err := resolveModelPath(c)
	if err != nil {
		return nil, err
	}
	return binding.LoadModel(path, binding.ModelParams{GPULayers: c.Int("n-gpu-layers")})
}

// warnPastTrained tells the user when positions went past the trained context.
func warnPastTrained(m *binding.Model, st session.Stats) {
	if st.PastTrained {
		fmt.Fprintf(os.Stderr, "h2o: warning: positions went past the model's trained context (%d) without --enable_position_rolling; quality may degrade\n",
			m.Info().NCtxTrain)
	}
}

// tinyModelParams: below this size one thread beats llama.cpp's thread pool,
// whose barriers dominate tiny matrices, the more so on a busy machine
// (docs/BENCHMARKS.md, docs/QUALITY.md "Threads and runtime").
const tinyModelParams = 5_000_000

// withThreadDefault runs a tiny model on one thread unless -t is given.
func withThreadDefault(c *cli.Context, m *binding.Model, opts session.Options) session.Options {
	if !c.IsSet("threads") && m.Info().NParams < tinyModelParams {
		opts.Threads = 1
	}
	return opts
}

// openSession loads the flags' model and starts a session on it; closeAll
// frees both.
func openSession(c *cli.Context, opts session.Options) (s *session.Session, closeAll func(), err error) {
	m, err := loadModel(c)
	if err != nil {
		return nil, nil, err
	}
	s, err = session.New(m, withThreadDefault(c, m, opts))
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return s, func() { s.Close(); m.Close() }, nil
}

// recentFor passes --recent to the policies that take it directly (h2o
// derives its recent window from the heavy hitters).
func recentFor(p h2o.Policy, recent int) int {
	if p == h2o.H2O {
		return 0
	}
	return recent
}

// heavyFor is the number of h2o heavy hitters in a budget b: from
// --num_heavy_hitter_tokens, --recent-share or --recent when given, else
// ratio*b (ratio < 0: half the budget).
func heavyFor(c *cli.Context, b int, ratio float64) int {
	switch {
	case c.IsSet("num_heavy_hitter_tokens"):
		return c.Int("num_heavy_hitter_tokens")
	case c.IsSet("recent-share"):
		return b - max(1, int(math.Round(c.Float64("recent-share")*float64(b))))
	case c.IsSet("recent"):
		return b - c.Int("recent")
	case ratio < 0:
		return b / 2
	}
	return int(math.Round(ratio * float64(b)))
}
