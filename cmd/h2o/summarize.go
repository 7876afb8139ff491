package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	return newCommand(cmdSummarize, "summarize", "the recipe's summarization task (XSUM) with exact ROUGE, resumable, with a KV-budget sweep", summarizeDescription, summarizeAction)
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
	if err := checkOutputPath(c); err != nil {
		return err
	}
	ctx, stop := interruptible()
	defer stop()
	o.Done = ctx.Done()
	m, err := loadModel(c)
	if err != nil {
		return err
	}
	defer m.Close()
	if c.String("kv-budgets") != "" {
		return summarizeSweep(c, m, recs, n, o)
	}
	req, err := generationRequest(c, h2o.Full, false)
	if err != nil {
		return err
	}
	so, err := summarizeSessionOptions(c, m, req)
	if err != nil {
		return err
	}
	sum, _, err := evaluateBudget(c, m, so, recs, n, o, "")
	if sum != nil && sum.Samples > 0 {
		reportSummary(m, sum)
	}
	return summarizeExit(err, sum, o)
}

// summarizeExit is the exit of a run: an interrupted one says how far it
// came and how to continue.
func summarizeExit(err error, sum *summarize.Summary, o summarize.Options) error {
	if !errors.Is(err, session.ErrInterrupted) {
		return err
	}
	done := 0
	if sum != nil {
		done = sum.Samples
	}
	how := "no --output-path: nothing to resume from"
	if o.OutputPath != "" {
		how = "run the same command with --resume to continue"
	}
	return interrupted(fmt.Sprintf("summarize: interrupted after %d samples (the average above covers them); %s", done, how))
}

// checkOutputPath refuses, before the model loads, an output that would
// overwrite the input or lies in a missing directory, and says when
// nothing will be saved.
func checkOutputPath(c *cli.Context) error {
	out := c.String("output-path")
	if out == "" {
		fmt.Fprintln(os.Stderr, "h2o: no --output-path: the generations are not saved, only the averages printed")
		return nil
	}
	paths := []string{out}
	if s := c.String("kv-budgets"); s != "" {
		budgets, err := summarize.ParseBudgets(s)
		if err != nil {
			return err
		}
		paths = paths[:0]
		for _, b := range budgets {
			paths = append(paths, summarize.BudgetPath(out, b))
		}
	}
	in := c.String("input-path")
	for _, p := range paths {
		if samePath(p, in) {
			return fmt.Errorf("--output-path %s is the input file: it would be overwritten", p)
		}
		if st, err := os.Stat(filepath.Dir(p)); err != nil || !st.IsDir() {
			return fmt.Errorf("--output-path %s: directory %s does not exist", p, filepath.Dir(p))
		}
	}
	return nil
}

// samePath reports whether a and b name the same file.
func samePath(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	absA, _ := filepath.Abs(a)
	absB, _ := filepath.Abs(b)
	return absA == absB
}

// summarizeSessionOptions are the flags' session options around a policy
// request; a tiny model runs on one thread unless -t is given.
func summarizeSessionOptions(c *cli.Context, m *binding.Model, req h2o.Config) (session.Options, error) {
	so, err := sessionOptions(c, req)
	return withThreadDefault(c, m, so), err
}

func summarizeOptions(c *cli.Context) (summarize.Options, error) {
	empty, err := summarize.ParseEmptyPolicy(c.String("on-empty"))
	if err != nil {
		return summarize.Options{}, err
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

// evaluateBudget runs one policy on a fresh session (or batcher with
// --parallel) and says what the policy resolved to.
func evaluateBudget(c *cli.Context, m *binding.Model, so session.Options, recs []summarize.Record, n int, o summarize.Options, tag string) (*summarize.Summary, h2o.Resolved, error) {
	nps, err := parallelList(c.String("parallel"), m, so)
	if err != nil {
		return nil, h2o.Resolved{}, err
	}
	if len(nps) != 1 {
		return nil, h2o.Resolved{}, fmt.Errorf("--parallel %q: want one number from 1 to 256 or auto", c.String("parallel"))
	}
	np := nps[0]
	warnRollingBudget(m, so.Policy.Rolling, so.Policy.Budget)
	bar := &summaryBar{tag: tag, running: c.Bool("print-running"), plain: !term.IsTerminal(int(os.Stderr.Fd()))}
	defer bar.finish()
	if np == 1 {
		s, err := session.New(m, so)
		if err != nil {
			return nil, h2o.Resolved{}, err
		}
		defer s.Close()
		s.SetFeedProgress(feedProgress(o.Done))
		fmt.Fprintf(os.Stderr, "h2o: %s | %d KV cells | %d samples%s\n", summarize.RunLabel(s.Options(), o), s.Context().NCtx(), n, outNote(o.OutputPath))
		bar.rate = func() string {
			st := s.Stats()
			return fmt.Sprintf("%.0f tok/s", float64(st.PromptTokens+st.GenTokens)/(st.PromptTime+st.GenTime).Seconds())
		}
		sum, err := summarize.Evaluate(s, recs, n, o, bar)
		return sum, s.Options().Resolved(), err
	}
	b, err := session.NewBatcher(m, so, np)
	if err != nil {
		return nil, h2o.Resolved{}, err
	}
	defer b.Close()
	fmt.Fprintf(os.Stderr, "h2o: %s | %d sequences x %d KV cells | %d samples%s\n", summarize.RunLabel(b.Options(), o), np, b.CellsPerSequence(), n, outNote(o.OutputPath))
	bar.rate = func() string {
		st := b.Stats()
		return fmt.Sprintf("%d seq, %.0f tok/s", b.Active(), st.TPS())
	}
	sum, err := summarize.EvaluateBatched(b, recs, n, o, bar)
	return sum, b.Options().Resolved(), err
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
	// Every budget runs --mode's policy, h2o when that is full.
	p, err := askedPolicy(c, h2o.H2O)
	if err != nil {
		return err
	}
	if p == h2o.Full {
		p = h2o.H2O
	}
	req, err := policyRequest(c, p, false)
	if err != nil {
		return err
	}
	if req, err = withScoring(c, req); err != nil {
		return err
	}
	base, err := summarizeSessionOptions(c, m, req)
	if err != nil {
		return err
	}
	var cells []summarize.Cell
	failed := 0
	var stopped *summarize.Cell
	for _, b := range budgets {
		cell := runBudget(c, m, base, b, recs, n, o)
		cells = append(cells, cell)
		if errors.Is(cell.Err, session.ErrInterrupted) {
			stopped = &cells[len(cells)-1]
			break
		}
		if cell.Err != nil {
			failed++
			fmt.Fprintf(os.Stderr, "h2o: budget %s failed: %v\n", b, cell.Err)
		}
	}
	fmt.Println()
	fmt.Print(summarize.Table(modelName(m), cells))
	if stopped != nil {
		o.OutputPath = summarize.BudgetPath(o.OutputPath, stopped.Budget)
		return summarizeExit(stopped.Err, stopped.Summary, o)
	}
	if failed == len(cells) {
		return errors.New("every budget failed")
	}
	return nil
}

// runBudget runs base's policy request at budget b, or the full cache.
func runBudget(c *cli.Context, m *binding.Model, base session.Options, b summarize.Budget, recs []summarize.Record, n int, o summarize.Options) summarize.Cell {
	cell := summarize.Cell{Budget: b}
	sweep := h2o.Sweep{Base: base.Policy, Budgets: []int{b.Tokens}}
	if b.Full() {
		sweep = h2o.Sweep{Base: base.Policy, Policies: []h2o.Policy{h2o.Full}}
	}
	reqs, err := sweep.Expand()
	if cell.Err = err; err != nil {
		return cell
	}
	so := base
	so.Policy = reqs[0]
	o.OutputPath = summarize.BudgetPath(o.OutputPath, b)
	var pol h2o.Resolved
	cell.Summary, pol, cell.Err = evaluateBudget(c, m, so, recs, n, o, "B="+b.String())
	if cell.Summary != nil && cell.Summary.Samples > 0 {
		fmt.Printf("# kv budget %s: %s, %d samples\n", b, pol, cell.Summary.Samples)
		reportSummary(m, cell.Summary)
	}
	return cell
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
