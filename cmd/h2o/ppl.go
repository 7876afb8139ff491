package main

import (
	"errors"
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
	"github.com/h2o-kv/h2o/session"
	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// defaultTextDir is the validation text looked up in ../shared.
const defaultTextDir = "data/text/valid"

const pplDescription = "Reads each document token by token as generation does: feed BOS and the first token, then for\n" +
	"each next token take its negative log-likelihood from the logits and decode it, evicting per the\n" +
	"policy. One session per (policy, budget), reset per document; the model is loaded once.\n" +
	"With --prompt-tokens P the first P tokens are read as a prompt instead (whole, then cut to B by\n" +
	"the policy or the --prefill-score rule) and the rest is scored token by token.\n" +
	"KL(full || policy) and top-1 agreement come from a full cache run in lockstep, over the\n" +
	"predictions within the model's trained context. Flash attention is off unless -fa is given,\n" +
	"so that every policy uses the same attention code as h2o (which needs it off).\n" +
	"--h2o-aggregate, --h2o-score, --heavy-ratio and --granularity take comma-separated lists: every\n" +
	"combination is evaluated for h2o in the same run (one table, one full-cache reference);\n" +
	"aggregations other than sum apply to granularity token only.\n\n" +
	"Example: h2o ppl -t 1 --docs 4 --max-tokens 2048 --budgets 64,128,256,512 -o json"

// pplCommand measures the perplexity of text under each policy and budget.
func pplCommand() *cli.Command {
	c := newCommand(cmdPPL, "ppl", "perplexity, KL and top-1 agreement with the full cache of text under each policy and budget", pplDescription, pplAction)
	c.ArgsUsage = "[FILE|DIR ...]"
	return c
}

func pplAction(c *cli.Context) (err error) {
	format, err := outputFormat(c)
	if err != nil {
		return err
	}
	policies, err := pplPolicies(c)
	if err != nil {
		return err
	}
	// --beyond reads past the trained context: rolling unless told otherwise.
	req, err := policyRequest(c, policies[0], c.Bool("beyond"))
	if err != nil {
		return err
	}
	sweep, err := pplSweep(c, req, policies)
	if err != nil {
		return err
	}
	base, err := sessionOptions(c, h2o.Config{})
	if err != nil {
		return err
	}
	prompt := c.Int("prompt-tokens")
	if prompt < 0 {
		return fmt.Errorf("--prompt-tokens %d: want a number of tokens", prompt)
	}
	if prompt > 0 && !c.IsSet("prefill") {
		// the protocol: the prompt is attended whole, then cut
		base.Prefill = session.PrefillFull
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
	base = withThreadDefault(c, m, base)
	info := m.Info()
	docs, skipped, err := eval.Tokenize(m, inputs, eval.TokenizeOptions{MaxTokens: c.Int("max-tokens"), MinTokens: c.Int("min-tokens"), MaxDocs: c.Int("docs"), PromptTokens: prompt})
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
		budgets = []int{req.Budget}
	}
	sweep.Budgets = budgets
	runs, err := sweep.Expand()
	if err != nil {
		return err
	}
	if big := slices.DeleteFunc(slices.Clone(budgets), func(b int) bool { return b < longest }); len(big) > 0 && slices.ContainsFunc(runs, h2o.Config.Evicts) {
		fmt.Fprintf(os.Stderr, "h2o: warning: budget(s) %v are not smaller than the longest document (%d tokens): nothing is evicted there\n", big, longest)
	}
	if slices.ContainsFunc(runs, func(r h2o.Config) bool { return r.Rolling }) {
		warnRollingBudget(m, true, slices.Max(budgets))
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

	progress, finish := pplProgress(scored)
	ctx, stop := interruptible()
	defer stop()
	start := time.Now()
	results, err := eval.Run(m, docs, eval.Options{
		Runs: runs, Session: base, KL: c.Bool("kl"), ChunkSize: chunk, Parallel: c.Int("parallel"),
		Progress: progress, Done: ctx.Done(),
	})
	finish()
	stopped := errors.Is(err, session.ErrInterrupted)
	if err != nil && !stopped {
		return err
	}
	if stopped {
		// the table of what was scored, then the exit of an interrupted run
		fmt.Fprintf(os.Stderr, "h2o: %v: the table covers the positions scored so far\n", err)
		scored = results[0].Tokens
		docs = eval.Covered(docs, scored)
		defer func() { err = interrupted("ppl: interrupted") }()
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
	if slices.ContainsFunc(results, func(r eval.Result) bool { return math.IsNaN(r.NLL) || math.IsInf(r.NLL, 0) }) {
		defer func() {
			if err == nil {
				err = errors.New("ppl: the log-likelihoods are not finite (NaN or Inf): the model's weights or its logits are broken")
			}
		}()
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

// pplSweep is the grid of runs the flags ask for (budgets are added once the
// documents are read): the lists of --h2o-aggregate, --h2o-score,
// --granularity and --heavy-ratio, and rolling with and without under
// --rolling-both. --heavy-ratio is the split unless another flag gives one.
func pplSweep(c *cli.Context, base h2o.Config, policies []h2o.Policy) (h2o.Sweep, error) {
	sw := h2o.Sweep{Base: base, Policies: policies}
	// A flag that configures no listed policy is refused, not ignored.
	if !slices.Contains(policies, h2o.H2O) {
		for _, f := range []string{"num_heavy_hitter_tokens", "heavy-ratio", "h2o-score", "h2o-aggregate", "granularity"} {
			if c.IsSet(f) {
				return sw, fmt.Errorf("--%s configures h2o, which the policies leave out", f)
			}
		}
	}
	if !slices.ContainsFunc(policies, func(p h2o.Policy) bool { return p != h2o.Full }) {
		for _, f := range []string{"budgets", "num_window_length", "recent", "recent-share", "sink-tokens", "enable_position_rolling", "rolling-both"} {
			if c.IsSet(f) {
				return sw, fmt.Errorf("--%s configures eviction: full keeps every token", f)
			}
		}
	}
	var err error
	if sw.Aggregates, err = parseList(c.String("h2o-aggregate"), h2o.ParseAggregate); err != nil {
		return sw, err
	}
	if sw.Scores, err = parseList(c.String("h2o-score"), h2o.ParseScoreRule); err != nil {
		return sw, err
	}
	if sw.Granularities, err = parseList(c.String("granularity"), h2o.ParseGranularity); err != nil {
		return sw, err
	}
	if c.IsSet("heavy-ratio") || !splitAsked(c) {
		sw.HeavyRatios, err = parseList(c.String("heavy-ratio"), func(s string) (float64, error) {
			r, err := strconv.ParseFloat(s, 64)
			if err != nil || r < 0 || r >= 1 {
				return 0, fmt.Errorf("--heavy-ratio %q: want 0 <= ratio < 1", s)
			}
			return r, nil
		})
		if err != nil {
			return sw, err
		}
	}
	if len(sw.Aggregates) == 0 || len(sw.Scores) == 0 || len(sw.Granularities) == 0 || (sw.HeavyRatios != nil && len(sw.HeavyRatios) == 0) {
		return sw, fmt.Errorf("--h2o-aggregate, --h2o-score, --heavy-ratio and --granularity need at least one value")
	}
	if sw.Prompts, err = parseList(c.String("prefill-score"), h2o.ParsePromptRule); err != nil {
		return sw, err
	}
	if c.Int("prompt-tokens") == 0 && slices.ContainsFunc(sw.Prompts, func(p h2o.PromptRule) bool { return p.Kind != "" }) {
		return sw, errors.New("--prefill-score cuts a prompt: give its length with --prompt-tokens")
	}
	if c.Bool("rolling-both") {
		sw.Rolling = []bool{false, true}
	}
	return sw, nil
}

// pplPolicies reads --policies, or the one policy --mode or
// --enable_h2o_generation names.
func pplPolicies(c *cli.Context) ([]h2o.Policy, error) {
	if policyAsked(c) {
		if c.IsSet("policies") {
			return nil, errors.New("--policies and --mode (or --enable_h2o_generation) both name the policies: give one")
		}
		p, err := askedPolicy(c, h2o.Full)
		return []h2o.Policy{p}, err
	}
	out, err := parseList(c.String("policies"), h2o.ParsePolicy)
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("--policies %q names no policy", c.String("policies"))
	}
	return out, err
}

// parseBudgets reads a list of budgets; "N%" is N percent of length.
func parseBudgets(s string, length int) ([]int, error) {
	out, err := parseList(s, func(f string) (int, error) {
		bad := fmt.Errorf("budget %q: want a positive number of tokens or a percentage", f)
		if pc, ok := strings.CutSuffix(f, "%"); ok {
			v, err := strconv.ParseFloat(pc, 64)
			if err != nil || v <= 0 {
				return 0, bad
			}
			if b := int(math.Round(v / 100 * float64(length))); b >= 1 {
				return b, nil
			}
		} else if b, err := strconv.Atoi(f); err != nil {
			return 0, bad
		} else if b >= 1 {
			return b, nil
		}
		return 0, fmt.Errorf("budget %q: less than one token", f)
	})
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("--budgets %q names no budget", s)
	}
	return out, err
}

// pplProgress is a progress bar over the scored positions on a terminal, a
// line every tenth in a log (a bar's carriage returns would fill it).
func pplProgress(total int) (progress func(doc, docs int), finish func()) {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		done := 0
		return func(doc, docs int) {
			if done++; done%max(total/10, 1) == 0 {
				fmt.Fprintf(os.Stderr, "h2o: ppl %d/%d positions (doc %d/%d)\n", done, total, doc+1, docs)
			}
		}, func() {}
	}
	bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription("ppl"),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("tok"),
		progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
	lastDoc := -1
	return func(doc, docs int) {
		if doc != lastDoc {
			bar.Describe(fmt.Sprintf("doc %d/%d", doc+1, docs))
			lastDoc = doc
		}
		bar.Add(1)
	}, func() { bar.Finish() }
}

// defaultTextPath finds ../shared/data/text/valid (see sharedPath).
func defaultTextPath() (string, bool) {
	p, ok := sharedPath(defaultTextDir)
	if st, err := os.Stat(p); !ok || err != nil || !st.IsDir() {
		return "", false
	}
	return p, true
}
