package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/session"
	"github.com/h2o-kv/h2o/summarize"
	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

const summarizeDescription = `The summarization task of the H2O recipe (h2o_hf/run_summarization.py).

Each request line of --input-path (article, summary_gt, max_tokens, temperature,
top_p, n, stop) is summarized: the article is the prompt, tokenized WITHOUT BOS
(add_special_tokens=False), sampled with the request's temperature and top_p and
seed --seed + sample index (so a resumed run draws the same tokens). The text is
cut at the first stop string. The recipe cuts with text[:text.find(stop[0])],
which drops the last character when no stop string was generated (find = -1);
that off-by-one is NOT reproduced. ROUGE is pltrdy's rouge, bit for bit; the
last line is the recipe's averages of the F scores:
  Average Rouge1: x, Rouge-2: y, Rouge-l: z

An empty generation makes the recipe crash (rouge raises "Hypothesis is empty").
--on-empty zero (default) scores it 0 and counts it, so a policy that silences
the model pays for it; skip leaves it out of the averages; fail stops as the
recipe does. The count is reported either way.

Output (--output-path) is the recipe's JSONL, {"request": ..., "result":
{"choices": [{"text", "logprobs", "finish_reason"}], "request_time"}}, plus an
"h2o" object (sample ROUGE, cache statistics, timings, policy). Lines are
appended as samples finish; --resume continues an interrupted run (a truncated
last line is rewritten). Without --resume the file is overwritten.

--kv-budgets 64,128,full runs one session per budget on the same model (h2o,
heavy hitters = half the budget unless --num_heavy_hitter_tokens; full = no
eviction), writes out.b64.jsonl etc., and prints a markdown table of ROUGE-2.
A budget that fails (e.g. a full cache smaller than an article) is marked in
the table and explained under it; the command fails only if every budget did.

The full cache must hold the prompt and max_tokens new tokens; a longer
article is an error naming the sample unless --truncate keeps its last tokens
(the end holds the instruction). With --enable_h2o_generation the chunked
prefill evicts while reading, so any article length works.

Without -t a tiny model (under 5M parameters, e.g. stories260K) runs on one
thread: llama.cpp's thread pool costs more than it gives there.`

// summarizeCommand is `h2o summarize`, the recipe's run_summarization.py
// (see summarizeDescription for what differs from it, notably the stop-string
// cut: the recipe's text[:text.find(stop[0])] drops the last character when no
// stop string was generated; that off-by-one is not reproduced).
func summarizeCommand() *cli.Command {
	flags := append(modelFlags(), policyFlags(-1, 256)...)
	flags = append(flags, summarizeFlags()...)
	return &cli.Command{
		Name:        "summarize",
		Usage:       "the recipe's summarization task (XSUM) with exact ROUGE, resumable, with a KV-budget sweep",
		Description: summarizeDescription,
		Flags:       flags,
		Action:      summarizeAction,
	}
}

func summarizeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "input-path", Aliases: []string{"input_path"}, Required: true, Usage: "request JSONL `FILE` (e.g. ../shared/data/summarization/xsum_0shot.jsonl)"},
		&cli.StringFlag{Name: "output-path", Aliases: []string{"output_path"}, Usage: "result JSONL `FILE` (with --kv-budgets one file per budget: FILE.b64.jsonl ...)"},
		&cli.IntFlag{Name: "sample_num", Aliases: []string{"sample-num"}, Value: 500, Usage: "summarize the first N requests (0 = all)"},
		&cli.Int64Flag{Name: "seed", Value: 42, Usage: "sampling seed; sample i uses seed + i"},
		&cli.StringFlag{Name: "kv-budgets", Aliases: []string{"kv_budgets"}, Usage: "sweep: comma-separated budgets in tokens and/or full, e.g. 64,128,256,512,1024,full"},
		&cli.IntFlag{Name: "shots", Usage: "K solved examples (other records, the last of the file) before each article"},
		&cli.BoolFlag{Name: "skip-bad", Usage: "skip malformed input lines (counted) instead of stopping"},
		&cli.BoolFlag{Name: "resume", Usage: "continue an interrupted run from its output file"},
		&cli.BoolFlag{Name: "truncate", Usage: "keep the last prompt tokens that fit a non-evicting cache instead of failing"},
		&cli.Float64Flag{Name: "temperature", Aliases: []string{"temp"}, DefaultText: "the request's", Usage: "override every request's temperature (0 = greedy)"},
		&cli.IntFlag{Name: "max-tokens", DefaultText: "the request's", Usage: "override every request's max_tokens"},
		&cli.StringFlag{Name: "on-empty", Value: "zero", Usage: "empty generation: zero (score 0, counted) | skip (left out of the averages) | fail (stop, as the recipe)"},
		&cli.IntFlag{Name: "top-logprobs", Value: 1, Usage: "alternatives per position in top_logprobs"},
		&cli.StringFlag{Name: "parallel", Aliases: []string{"np"}, Value: "1", Usage: "summarize N samples at once (continuous batching; `N` or auto = as many as fit in memory); greedy outputs equal the sequential ones"},
		&cli.BoolFlag{Name: "print-running", Usage: "print the recipe's running 'rouge-1: ..., rouge-2: ..., rouge-l: ...' line after every sample"},
	}
}

func summarizeAction(c *cli.Context) error {
	o, err := summarizeOptions(c)
	if err != nil {
		return err
	}
	recs, n, err := readRequests(c)
	if err != nil {
		return err
	}
	m, err := loadModel(c)
	if err != nil {
		return err
	}
	defer m.Close()
	if c.String("kv-budgets") != "" {
		return summarizeSweep(c, m, recs, n, o)
	}
	so, err := summarizeSessionOptions(c, m)
	if err != nil {
		return err
	}
	sum, err := evaluateBudget(c, m, so, recs, n, o, "")
	if sum != nil && sum.Samples > 0 {
		reportSummary(m, sum)
	}
	return err
}

// summarizeSessionOptions are the flags' session options; a tiny model runs
// on one thread unless -t is given.
func summarizeSessionOptions(c *cli.Context, m *binding.Model) (session.Options, error) {
	so, err := sessionOptions(c)
	return withThreadDefault(c, m, so), err
}

func summarizeOptions(c *cli.Context) (summarize.Options, error) {
	empty, err := summarize.ParseEmptyPolicy(c.String("on-empty"))
	if err != nil {
		return summarize.Options{}, err
	}
	if c.Int("shots") < 0 || c.Int("max-tokens") < 0 || c.Float64("temperature") < 0 {
		return summarize.Options{}, errors.New("--shots, --max-tokens and --temperature must not be negative")
	}
	o := summarize.Options{
		Seed: c.Int64("seed"), Shots: c.Int("shots"), MaxTokens: c.Int("max-tokens"), Truncate: c.Bool("truncate"),
		OnEmpty: empty, TopLogprobs: c.Int("top-logprobs"), OutputPath: c.String("output-path"), Resume: c.Bool("resume"),
	}
	if c.IsSet("temperature") {
		t := c.Float64("temperature")
		o.Temperature = &t
	}
	if o.Resume && o.OutputPath == "" {
		return o, errors.New("--resume needs --output-path")
	}
	return o, nil
}

// readRequests reads the input and says how many samples to run.
func readRequests(c *cli.Context) ([]summarize.Record, int, error) {
	path := c.String("input-path")
	recs, bad, err := summarize.ReadRecords(path, c.Bool("skip-bad"))
	if err != nil {
		return nil, 0, err
	}
	for _, b := range bad {
		fmt.Fprintf(os.Stderr, "h2o: skipped %v\n", b)
	}
	if len(bad) > 0 {
		fmt.Fprintf(os.Stderr, "h2o: warning: %d malformed line(s) of %s skipped\n", len(bad), path)
	}
	if len(recs) == 0 {
		return nil, 0, fmt.Errorf("%s: no requests", path)
	}
	n := len(recs)
	if k := c.Int("sample_num"); k > 0 && k < n {
		fmt.Fprintf(os.Stderr, "h2o: sample %d examples from %d samples\n", k, n)
		n = k
	}
	return recs, n, nil
}

// evaluateBudget runs one policy on a fresh session (or batcher with --parallel).
func evaluateBudget(c *cli.Context, m *binding.Model, so session.Options, recs []summarize.Record, n int, o summarize.Options, tag string) (*summarize.Summary, error) {
	np := 1
	if p := c.String("parallel"); p == "auto" {
		var err error
		if np, err = autoParallel(m, so, c.Int("n-gpu-layers") != 0); err != nil {
			return nil, err
		}
	} else if v, err := strconv.Atoi(p); err != nil || v < 1 || v > 256 {
		return nil, fmt.Errorf("--parallel %q: want a number from 1 to 256 or auto", p)
	} else {
		np = v
	}
	bar := &summaryBar{tag: tag, running: c.Bool("print-running"), plain: !term.IsTerminal(int(os.Stderr.Fd()))}
	defer bar.finish()
	if np == 1 {
		s, err := session.New(m, so)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		fmt.Fprintf(os.Stderr, "h2o: %s | %d KV cells | %d samples%s\n", summarize.RunLabel(s.Options(), o), s.Context().NCtx(), n, outNote(o.OutputPath))
		bar.rate = func() string {
			st := s.Stats()
			return fmt.Sprintf("%.0f tok/s", float64(st.PromptTokens+st.GenTokens)/(st.PromptTime+st.GenTime).Seconds())
		}
		return summarize.Evaluate(s, recs, n, o, bar)
	}
	b, err := session.NewBatcher(m, so, np)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	fmt.Fprintf(os.Stderr, "h2o: %s | %d sequences x %d KV cells | %d samples%s\n", summarize.RunLabel(b.Options(), o), np, b.CellsPerSequence(), n, outNote(o.OutputPath))
	bar.rate = func() string {
		st := b.Stats()
		return fmt.Sprintf("%d seq, %.0f tok/s", b.Active(), st.TPS())
	}
	return summarize.EvaluateBatched(b, recs, n, o, bar)
}

func outNote(path string) string {
	if path == "" {
		return ""
	}
	return " -> " + path
}

// reportSummary prints the counts that qualify the averages, then the recipe's line.
func reportSummary(m *binding.Model, sum *summarize.Summary) {
	if sum.Resumed > 0 {
		fmt.Fprintf(os.Stderr, "h2o: %d of %d samples taken over from the earlier run\n", sum.Resumed, sum.Samples)
	}
	if sum.Empty > 0 {
		what := "scored 0"
		if sum.Skipped > 0 {
			what = "left out of the averages"
		}
		fmt.Fprintf(os.Stderr, "h2o: warning: %d empty generation(s), %s (--on-empty)\n", sum.Empty, what)
	}
	if sum.Truncated > 0 {
		fmt.Fprintf(os.Stderr, "h2o: warning: %d prompt(s) truncated to fit the context (--truncate)\n", sum.Truncated)
	}
	if sum.PastTrained > 0 {
		fmt.Fprintf(os.Stderr, "h2o: warning: %d sample(s) went past the model's trained context (%d) without --enable_position_rolling; quality may degrade\n",
			sum.PastTrained, m.Info().NCtxTrain)
	}
	fmt.Println(sum.Avg.Final())
}

// summarizeSweep runs every budget of --kv-budgets on the loaded model and
// prints the table; failed budgets are marked, not fatal.
func summarizeSweep(c *cli.Context, m *binding.Model, recs []summarize.Record, n int, o summarize.Options) error {
	budgets, err := summarize.ParseBudgets(c.String("kv-budgets"))
	if err != nil {
		return err
	}
	base, err := summarizeSessionOptions(c, m)
	if err != nil {
		return err
	}
	var cells []summarize.Cell
	failed := 0
	for _, b := range budgets {
		cell := runBudget(c, m, base, b, recs, n, o)
		if cell.Err != nil {
			failed++
			fmt.Fprintf(os.Stderr, "h2o: budget %s failed: %v\n", b, cell.Err)
		}
		cells = append(cells, cell)
	}
	fmt.Println()
	fmt.Print(summarize.Table(modelName(m), cells))
	if failed == len(cells) {
		return errors.New("every budget failed")
	}
	return nil
}

func runBudget(c *cli.Context, m *binding.Model, base session.Options, b summarize.Budget, recs []summarize.Record, n int, o summarize.Options) summarize.Cell {
	cell := summarize.Cell{Budget: b}
	so := base
	if so.Policy, cell.Err = budgetPolicy(c, base.Policy, b); cell.Err != nil {
		return cell
	}
	o.OutputPath = summarize.BudgetPath(o.OutputPath, b)
	cell.Summary, cell.Err = evaluateBudget(c, m, so, recs, n, o, "B="+b.String())
	if cell.Summary != nil && cell.Summary.Samples > 0 {
		fmt.Printf("# kv budget %s: %s, %d samples\n", b, so.Policy, cell.Summary.Samples)
		reportSummary(m, cell.Summary)
	}
	return cell
}

// budgetPolicy is the flags' policy with the sweep's budget: the full cache,
// or the --mode policy (h2o when it is full) with heavy hitters and recent
// window recomputed for the budget.
func budgetPolicy(c *cli.Context, base h2o.Config, b summarize.Budget) (h2o.Config, error) {
	if b.Full() {
		return h2o.Config{Policy: h2o.Full, Aggregate: base.Aggregate, Score: base.Score}.Normalize()
	}
	cfg := base
	if cfg.Policy == h2o.Full {
		cfg.Policy = h2o.H2O
	}
	cfg.Budget = b.Tokens
	cfg.HeavyHitters = c.Int("num_heavy_hitter_tokens")
	cfg.Recent = c.Int("recent")
	cfg.SinkTokens = c.Int("sink-tokens")
	return cfg.Normalize()
}

func modelName(m *binding.Model) string {
	return strings.TrimSuffix(filepath.Base(m.Path()), filepath.Ext(m.Path()))
}

// summaryBar draws the progress bar: count, rate, ETA and running ROUGE-2.
type summaryBar struct {
	tag     string
	rate    func() string // aggregate speed, e.g. "4 seq, 850 tok/s"
	running bool
	bar     *progressbar.ProgressBar
	plain   bool // stderr is a log, not a terminal: a line every tenth instead of a bar
	total   int
	n       int
}

func (b *summaryBar) Start(total, done int) {
	if total-done <= 0 {
		return
	}
	desc := strings.TrimSpace(b.tag + " summarizing")
	if done > 0 {
		desc = fmt.Sprintf("%s (resumed after %d)", desc, done)
	}
	b.bar = progressbar.NewOptions(total-done, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("samples"),
		progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true), progressbar.OptionClearOnFinish(),
		progressbar.OptionSetVisibility(!b.plain))
	b.total = total - done
}

func (b *summaryBar) Sample(_ *summarize.Line, avg *summarize.Averages) {
	if b.running {
		b.bar.Clear()
		fmt.Println(avg.Running())
	}
	desc := strings.TrimSpace(fmt.Sprintf("%s ROUGE-2 %.4f", b.tag, avg.Rouge2()))
	if b.rate != nil {
		desc += " | " + b.rate()
	}
	b.bar.Describe(desc)
	b.bar.Add(1)
	if b.n++; b.plain && b.n%max(b.total/10, 1) == 0 {
		fmt.Fprintf(os.Stderr, "h2o: summarize %d/%d, %s\n", b.n, b.total, desc)
	}
}

func (b *summaryBar) finish() {
	if b.bar != nil {
		b.bar.Finish()
	}
}
