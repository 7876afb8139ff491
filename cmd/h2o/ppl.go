package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/h2o-kv/h2o/eval"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
)

// defaultTextDir is the validation text looked up in ../shared.
const defaultTextDir = "data/text/valid"

// pplCommand measures the perplexity of text under each policy and budget.
func pplCommand() *cli.Command {
	flags := append(modelFlags(), policyFlags(-1, 256)...)
	flags = append(flags,
		&cli.StringFlag{Name: "policies", Value: "full,h2o,window,sink", Usage: "policies to evaluate (comma-separated: full, h2o, window, sink)"},
		&cli.StringFlag{Name: "budgets", Value: "64,128,256,512,1024", Usage: "cache budgets B (comma-separated; N% = N percent of the longest evaluated document)"},
		&cli.StringFlag{Name: "heavy-ratio", Value: "0.5", Usage: "h2o heavy hitters as a share of the budget: H = ratio*B (comma-separated to compare; --num_heavy_hitter_tokens, --recent-share or --recent override)"},
		&cli.BoolFlag{Name: "rolling-both", Usage: "evaluate each evicting policy with and without position rolling"},
		&cli.StringSliceFlag{Name: "input-path", Aliases: []string{"i"}, Usage: "text `FILE`s or directories (also as arguments; default ../shared/" + defaultTextDir + " when present)"},
		&cli.IntFlag{Name: "docs", Usage: "evaluate the first N documents (0 = all)"},
		&cli.BoolFlag{Name: "concat", Usage: "join all inputs (after --docs) into one document, e.g. to read past the trained context"},
		&cli.IntFlag{Name: "max-tokens", Usage: "evaluate the first N tokens of each document, BOS included (0 = all)"},
		&cli.IntFlag{Name: "min-tokens", Usage: "skip documents shorter than N tokens (before --docs counts them)"},
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "md", Usage: "md (Markdown table) or json (one record per policy and budget)"},
		&cli.StringFlag{Name: "json-out", Usage: "also write the JSON records to `FILE` (with -o md)"},
		&cli.BoolFlag{Name: "kl", Value: true, Usage: "KL divergence and top-1 agreement with a full cache run in lockstep (--kl=false to skip)"},
		&cli.BoolFlag{Name: "beyond", Usage: "past the trained context: perplexity per window of --chunk-size tokens; rolling on unless --enable_position_rolling=false"},
		&cli.IntFlag{Name: "chunk-size", Usage: "report perplexity per window of N tokens (default with --beyond: the trained context)"},
		&cli.IntFlag{Name: "parallel", Aliases: []string{"j"}, Value: 1, Usage: "sessions decoded at once, each with -t threads"},
	)
	return &cli.Command{
		Name:      "ppl",
		Usage:     "perplexity, KL and top-1 agreement with the full cache of text under each policy and budget",
		ArgsUsage: "[FILE|DIR ...]",
		Description: "Reads each document token by token as generation does: feed BOS and the first token, then for\n" +
			"each next token take its negative log-likelihood from the logits and decode it, evicting per the\n" +
			"policy. One session per (policy, budget), reset per document; the model is loaded once.\n" +
			"KL(full || policy) and top-1 agreement come from a full cache run in lockstep, over the\n" +
			"predictions within the model's trained context. Flash attention is off unless -fa is given,\n" +
			"so that every policy uses the same attention code as h2o (which needs it off).\n" +
			"--h2o-aggregate, --h2o-score, --heavy-ratio and --granularity take comma-separated lists: every\n" +
			"combination is evaluated for h2o in the same run (one table, one full-cache reference);\n" +
			"aggregations other than sum apply to granularity token only.\n\n" +
			"Example: h2o ppl -t 1 --docs 4 --max-tokens 2048 --budgets 64,128,256,512 -o json",
		Flags:  flags,
		Action: pplAction,
	}
}

func pplAction(c *cli.Context) error {
	if c.Bool("beyond") && !c.IsSet("enable_position_rolling") {
		c.Set("enable_position_rolling", "true")
	}
	format := c.String("output")
	if format != "md" && format != "json" {
		return fmt.Errorf("output %q: want md or json", format)
	}
	vars, err := h2oVariants(c)
	if err != nil {
		return err
	}
	base, err := sessionOptions(c)
	if err != nil {
		return err
	}
	if !c.IsSet("flash-attn") {
		base = base.Comparable()
	}
	policies, err := pplPolicies(c)
	if err != nil {
		return err
	}
	paths := append(c.Args().Slice(), c.StringSlice("input-path")...)
	if len(paths) == 0 {
		if d, ok := defaultTextPath(); ok {
			fmt.Fprintf(os.Stderr, "h2o: no input given: using %s\n", d)
			paths = []string{d}
		}
	}
	inputs, err := eval.ReadInputs(paths, 0)
	if err != nil {
		return err
	}
	if c.Bool("concat") {
		if n := c.Int("docs"); n > 0 && len(inputs) > n {
			inputs = inputs[:n]
		}
		inputs = []eval.Input{eval.Concat(inputs)}
	}

	m, err := loadModel(c)
	if err != nil {
		return err
	}
	defer m.Close()
	info := m.Info()
	docs, skipped, err := eval.Tokenize(m, inputs, eval.TokenizeOptions{MaxTokens: c.Int("max-tokens"), MinTokens: c.Int("min-tokens"), MaxDocs: c.Int("docs")})
	if len(skipped) > 0 {
		fmt.Fprintf(os.Stderr, "h2o: skipped %d document(s) too short to evaluate: %s\n", len(skipped), strings.Join(skipped, ", "))
	}
	if err != nil {
		return err
	}
	longest, scored := 0, 0
	for _, d := range docs {
		longest = max(longest, len(d.Tokens))
		scored += d.Scored()
	}
	budgets, err := parseBudgets(c.String("budgets"), longest)
	if err != nil {
		return err
	}
	if !c.IsSet("budgets") && c.IsSet("num_window_length") {
		budgets = []int{base.Policy.Budget}
	}

	// An explicit split (--num_heavy_hitter_tokens, --recent-share or --recent)
	// replaces --heavy-ratio.
	if c.IsSet("num_heavy_hitter_tokens") || c.IsSet("recent-share") || c.IsSet("recent") {
		vars.ratios = vars.ratios[:1]
	}
	rollings := []bool{base.Policy.Rolling}
	if c.Bool("rolling-both") {
		rollings = []bool{false, true}
	}
	var runs []h2o.Config
	for _, p := range policies {
		if p == h2o.Full {
			runs = append(runs, h2o.Config{Policy: h2o.Full, Aggregate: vars.aggs[0], Score: vars.scores[0], Granularity: h2o.PerToken})
			continue
		}
		for _, b := range budgets {
			for _, rolling := range rollings {
				// From the flags, not base.Policy: Normalize filled in defaults for --mode's policy.
				cfg := base.Policy
				cfg.Policy, cfg.Budget, cfg.Rolling = p, b, rolling
				cfg.SinkTokens, cfg.Recent, cfg.HeavyHitters = c.Int("sink-tokens"), c.Int("recent"), c.Int("num_heavy_hitter_tokens")
				cfg.Granularity = h2o.PerToken // window and sink keep the same tokens in every head
				if p != h2o.H2O {
					if cfg, err = cfg.Normalize(); err != nil {
						return fmt.Errorf("budget %d: %w", b, err)
					}
					runs = append(runs, cfg)
					continue
				}
				cfg.Recent = 0 // h2o derives it from H
				for _, ratio := range vars.ratios {
					cfg.HeavyHitters = heavyFor(c, b, ratio)
					for _, gran := range vars.grans {
						for _, agg := range vars.aggs {
							if gran == h2o.PerHead && agg != h2o.AggSum {
								continue // a head's score is its group's sum
							}
							for _, score := range vars.scores {
								cfg.Aggregate, cfg.Score, cfg.Granularity = agg, score, gran
								n, err := cfg.Normalize()
								if err != nil {
									return fmt.Errorf("budget %d: %w", b, err)
								}
								runs = append(runs, n)
							}
						}
					}
				}
			}
		}
	}
	chunk := c.Int("chunk-size")
	if c.Bool("beyond") && chunk == 0 {
		chunk = info.NCtxTrain
	}
	if longest > info.NCtxTrain {
		fmt.Fprintf(os.Stderr, "h2o: documents of up to %d tokens exceed the trained context (%d): KL and top-1 only cover predictions within it\n", longest, info.NCtxTrain)
	}
	fmt.Fprintf(os.Stderr, "h2o: %s (%s, trained context %d) | %d documents, %d tokens to score | %d runs | flash-attn %s, %d thread(s) x %d parallel\n",
		m.Path(), info.Description, info.NCtxTrain, len(docs), scored, len(runs), base.FlashAttn, base.Threads, max(c.Int("parallel"), 1))

	bar := progressbar.NewOptions(scored, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription("ppl"),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("tok"),
		progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
	lastDoc := -1
	start := time.Now()
	results, err := eval.Run(m, docs, eval.Options{
		Runs: runs, Session: base, KL: c.Bool("kl"), ChunkSize: chunk, Parallel: c.Int("parallel"),
		Progress: func(doc, n int) {
			if doc != lastDoc {
				bar.Describe(fmt.Sprintf("doc %d/%d", doc+1, n))
				lastDoc = doc
			}
			bar.Add(1)
		},
	})
	bar.Finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "h2o: %d tokens x %d runs in %s (%.1f positions/s)\n", scored, len(runs), time.Since(start).Round(time.Millisecond),
		float64(scored)/time.Since(start).Seconds())
	var past []string
	for _, r := range results {
		if r.PastTrained {
			past = append(past, r.Config.String())
		}
	}
	if len(past) > 0 {
		fmt.Fprintf(os.Stderr, "h2o: note: positions went past the trained context (%d) without rolling in %d run(s): %s\n",
			info.NCtxTrain, len(past), strings.Join(past, "; "))
	}
	recs := eval.Records(results, budgets)
	if f := c.String("json-out"); f != "" {
		if err := writeJSONFile(f, recs); err != nil {
			return err
		}
	}
	if format == "json" {
		return eval.WriteJSON(os.Stdout, recs)
	}
	return eval.WriteMarkdown(os.Stdout, recs, eval.Meta{
		Model: filepath.Base(m.Path()), Trained: info.NCtxTrain, Docs: docs, MaxTokens: c.Int("max-tokens"),
		Threads: base.Threads, Parallel: c.Int("parallel"),
	})
}

func writeJSONFile(path string, recs []eval.Record) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := eval.WriteJSON(f, recs); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// h2oVariant holds the lists of h2o settings to compare.
type h2oVariant struct {
	aggs   []h2o.Aggregate
	scores []h2o.ScoreRule
	ratios []float64
	grans  []h2o.Granularity
}

// h2oVariants reads the comma-separated --h2o-aggregate, --h2o-score,
// --heavy-ratio and --granularity, and leaves in the shared flags (which take
// one value) the first of each, or for --granularity token when listed (the
// shared flags also configure window and sink).

func h2oVariants(c *cli.Context) (h2oVariant, error) {
	var v h2oVariant
	aggs, scores := splitList(c.String("h2o-aggregate")), splitList(c.String("h2o-score"))
	for _, a := range aggs {
		agg, err := h2o.ParseAggregate(a)
		if err != nil {
			return v, err
		}
		v.aggs = append(v.aggs, agg)
	}
	for _, s := range scores {
		r, err := h2o.ParseScoreRule(s)
		if err != nil {
			return v, err
		}
		v.scores = append(v.scores, r)
	}
	for _, s := range splitList(c.String("heavy-ratio")) {
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || r < 0 || r >= 1 {
			return v, fmt.Errorf("--heavy-ratio %q: want 0 <= ratio < 1", s)
		}
		v.ratios = append(v.ratios, r)
	}
	if f := c.Float64("recent-share"); c.IsSet("recent-share") && (f <= 0 || f >= 1) {
		return v, fmt.Errorf("--recent-share %g: want 0 < F < 1", f)
	}
	grans := splitList(c.String("granularity"))
	for _, s := range grans {
		g, err := h2o.ParseGranularity(s)
		if err != nil {
			return v, err
		}
		if !slices.Contains(v.grans, g) {
			v.grans = append(v.grans, g)
		}
	}
	if len(v.aggs) == 0 || len(v.scores) == 0 || len(v.ratios) == 0 || len(v.grans) == 0 {
		return v, fmt.Errorf("--h2o-aggregate, --h2o-score, --heavy-ratio and --granularity need at least one value")
	}
	if len(grans) > 1 || (len(v.grans) == 1 && v.grans[0] == h2o.PerHead) {
		// The shared flags must also suit window and sink (token only);
		// the h2o runs get their granularity from the list.
		c.Set("granularity", string(h2o.PerToken))
	}
	if len(v.grans) == 1 && v.grans[0] == h2o.PerHead && !slices.ContainsFunc(v.aggs, func(a h2o.Aggregate) bool { return a == h2o.AggSum }) {
		return v, fmt.Errorf("granularity head ranks each KV head by its group's summed attention: --h2o-aggregate must include sum")
	}
	if len(aggs) > 1 {
		c.Set("h2o-aggregate", aggs[0])
	}
	if len(scores) > 1 {
		c.Set("h2o-score", scores[0])
	}
	return v, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// pplPolicies reads --policies; --mode or --enable_h2o_generation alone select one policy.
func pplPolicies(c *cli.Context) ([]h2o.Policy, error) {
	list := c.String("policies")
	if !c.IsSet("policies") {
		if c.IsSet("mode") {
			list = c.String("mode")
		} else if c.Bool("enable_h2o_generation") {
			list = "h2o"
		}
	}
	var out []h2o.Policy
	for _, f := range splitList(list) {
		p, err := h2o.ParsePolicy(f)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--policies %q names no policy", list)
	}
	return out, nil
}

// parseBudgets reads a list of budgets; "N%" is N percent of length.
func parseBudgets(s string, length int) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		var b int
		if pc, ok := strings.CutSuffix(f, "%"); ok {
			v, err := strconv.ParseFloat(pc, 64)
			if err != nil || v <= 0 {
				return nil, fmt.Errorf("budget %q: want a positive number of tokens or a percentage", f)
			}
			b = int(math.Round(v / 100 * float64(length)))
		} else {
			v, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("budget %q: want a positive number of tokens or a percentage", f)
			}
			b = v
		}
		if b < 1 {
			return nil, fmt.Errorf("budget %q: less than one token", f)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--budgets %q names no budget", s)
	}
	return out, nil
}

// defaultTextPath finds ../shared/data/text/valid beside the repository
// holding this binary, or the working directory.
func defaultTextPath() (string, bool) {
	var candidates []string
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), "..", "..", "shared", defaultTextDir))
	}
	candidates = append(candidates, filepath.Join("..", "shared", defaultTextDir))
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return filepath.Clean(p), true
		}
	}
	return "", false
}
