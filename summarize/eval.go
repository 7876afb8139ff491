package summarize

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/session"
)

// Options of one evaluation run (one cache policy).
type Options struct {
	Seed        int64    // sample i is sampled with seed Seed + i, so a resumed run is reproducible
	Shots       int      // solved examples before each article (0: the recipe's 0-shot prompt)
	Temperature *float64 // overrides every record's temperature (0: greedy)
	MaxTokens   int      // overrides every record's max_tokens (0: keep)
	Truncate    bool     // keep the prompt's last tokens that fit instead of failing
	OnEmpty     EmptyPolicy
	TopLogprobs int    // alternatives per position in top_logprobs (0: none)
	OutputPath  string // JSONL output ("" = none)
	Resume      bool   // continue OutputPath instead of overwriting it
	// Done, when closed, stops the run: the sample in progress is dropped
	// (Evaluate) or finished (EvaluateBatched finishes the samples in
	// flight), no new one starts, and session.ErrInterrupted is returned
	// with the summary of the samples written.
	Done <-chan struct{}
}

// stopped reports whether o.Done is closed.
func (o Options) stopped() bool {
	select {
	case <-o.Done:
		return true
	default:
		return false
	}
}

// Observer follows a run; the CLI draws its progress bar with it.
type Observer interface {
	Start(total, done int)
	Sample(l *Line, avg *Averages)
}

// Summary is the outcome of a run, counting resumed samples too.
type Summary struct {
	Run         string // policy and settings, as written in every line
	Samples     int
	Resumed     int // samples taken over from an earlier run's output
	Empty       int // empty generations
	Skipped     int // left out of the averages (EmptySkip)
	Truncated   int // prompts cut by Truncate
	PastTrained int // samples whose positions went past the trained context
	Avg         Averages
}

func (s *Summary) add(l *Line) {
	s.Samples++
	s.Avg.Add(l.H2O.Rouge)
	if l.H2O.Empty {
		s.Empty++
	}
	if l.H2O.Rouge == nil {
		s.Skipped++
	}
	if l.H2O.Truncated > 0 {
		s.Truncated++
	}
	if l.H2O.PastTrained {
		s.PastTrained++
	}
}

// Evaluate summarizes the first n records with the session and scores them.
// All records are passed so that few-shot examples can come from the whole
// file. Each line is written as soon as its sample is done. On error the
// summary of the samples done so far is returned with it.
func Evaluate(s *session.Session, recs []Record, n int, o Options, obs Observer) (*Summary, error) {
	e, n, err := newEvaluator(s.Model(), s.Options(), s.Context().NCtx(), 1, recs, n, o, obs)
	if err != nil {
		return e.sum, e.close(err)
	}
	return e.sum, e.close(e.sequential(s, n, obs))
}

func (e *evaluator) sequential(s *session.Session, n int, obs Observer) error {
	going := func(string) bool { return !e.o.stopped() }
	for i := e.sum.Resumed; i < n; i++ {
		if e.o.stopped() {
			return session.ErrInterrupted
		}
		j, err := e.prepare(i)
		if err != nil {
			return err
		}
		before := s.Stats()
		start := time.Now()
		s.Reset()
		if err := s.Feed(j.toks); err != nil {
			return e.wrap(i, err)
		}
		res, err := s.Generate(j.gen, going)
		if err != nil {
			return e.wrap(i, err)
		}
		if e.o.stopped() {
			return session.ErrInterrupted // the sample is cut short: not written
		}
		if err := e.done(j, res, s.Stats().Since(before), time.Since(start), obs); err != nil {
			return err
		}
	}
	return nil
}

// EvaluateBatched is Evaluate with up to b.Slots() samples generated at
// once. Lines are written in input order (a sample finishing early waits for
// the ones before it), so the output and --resume work as sequentially;
// greedy samples equal the sequential ones.
func EvaluateBatched(b *session.Batcher, recs []Record, n int, o Options, obs Observer) (*Summary, error) {
	e, n, err := newEvaluator(b.Context().Model(), b.Options(), b.CellsPerSequence(), b.Slots(), recs, n, o, obs)
	if err != nil {
		return e.sum, e.close(err)
	}
	return e.sum, e.close(e.batched(b, n, obs))
}

func (e *evaluator) batched(b *session.Batcher, n int, obs Observer) error {
	jobs := map[int]*job{}
	ready := map[int]session.Done{}
	next, write := e.sum.Resumed, e.sum.Resumed
	var prepErr error
	err := b.Run(func() (session.Request, bool) {
		if next >= n || prepErr != nil || e.o.stopped() {
			return session.Request{}, false
		}
		j, err := e.prepare(next)
		if err != nil {
			prepErr = err
			return session.Request{}, false
		}
		jobs[next] = j
		next++
		return session.Request{ID: j.i, Prompt: j.toks, Gen: j.gen}, true
	}, func(d session.Done) error {
		if d.Err != nil {
			return e.wrap(d.ID, d.Err)
		}
		ready[d.ID] = d
		for {
			d, ok := ready[write]
			if !ok {
				return nil
			}
			delete(ready, write)
			st := d.Stats
			if err := e.done(jobs[write], d.Result, st, st.PromptTime+st.GenTime, obs); err != nil {
				return err
			}
			delete(jobs, write)
			write++
		}
	})
	if err == nil {
		err = prepErr
	}
	if err == nil && write < n && e.o.stopped() {
		err = session.ErrInterrupted
	}
	return err
}

// close closes the output; one that holds no sample after a failed run is
// removed rather than left empty.
func (e *evaluator) close(err error) error {
	if e.out == nil {
		return err
	}
	cerr := e.out.Close()
	if err != nil && e.sum.Samples == 0 {
		os.Remove(e.o.OutputPath)
	}
	if err == nil {
		err = cerr
	}
	return err
}

func newEvaluator(m *binding.Model, so session.Options, cells, batch int, recs []Record, n int, o Options, obs Observer) (*evaluator, int, error) {
	n = min(n, len(recs))
	e := &evaluator{model: m, so: so, cells: cells, batch: batch, recs: recs, o: o, sum: &Summary{Run: RunLabel(so, o)}}
	if err := e.open(n); err != nil {
		return e, n, err
	}
	if obs != nil {
		obs.Start(n, e.sum.Resumed)
	}
	return e, n, nil
}

func (e *evaluator) wrap(i int, err error) error {
	return fmt.Errorf("sample %d (%s): %w", i, e.recs[i].Where(), err)
}

// done scores a finished sample, writes its line and tells the observer.
func (e *evaluator) done(j *job, res session.Result, st session.Stats, d time.Duration, obs Observer) error {
	l, err := e.line(j, res, st, d)
	if err != nil {
		return e.wrap(j.i, err)
	}
	if e.out != nil {
		if err := e.out.Write(l); err != nil {
			return err
		}
	}
	e.sum.add(l)
	if obs != nil {
		obs.Sample(l, &e.sum.Avg)
	}
	return nil
}

// ModelName is the model as an output line records it: its file name.
func ModelName(m *binding.Model) string { return filepath.Base(m.Path()) }

// RunLabel names the policy and the settings that change the output; a
// resumed run must match it.
func RunLabel(so session.Options, o Options) string {
	p := so.Resolved()
	parts := []string{p.String()}
	if p.Evicts() {
		if p.Rolling {
			parts = append(parts, "rolling")
		}
		parts = append(parts, "prefill="+string(so.Prefill), "score="+p.Score.String(), "agg="+string(p.Aggregate))
	}
	parts = append(parts, fmt.Sprintf("shots=%d", o.Shots), fmt.Sprintf("seed=%d", o.Seed))
	if o.Temperature != nil {
		parts = append(parts, fmt.Sprintf("temperature=%g", *o.Temperature))
	}
	if o.MaxTokens > 0 {
		parts = append(parts, fmt.Sprintf("max_tokens=%d", o.MaxTokens))
	}
	if o.Truncate && PromptLimit(so, 1, 0) >= 0 { // only where truncation can happen
		parts = append(parts, "truncate")
	}
	return strings.Join(parts, " ")
}

type evaluator struct {
	model *binding.Model
	so    session.Options
	cells int // KV cells of one sequence
	batch int // sequences decoded together
	recs  []Record
	o     Options
	out   *Writer
	sum   *Summary
}

// job is one sample's prompt, ready to generate.
type job struct {
	i     int
	shots []int
	toks  []int32
	total int // prompt tokens before truncation
	gen   session.GenOptions
}

// open prepares the output and takes over the samples of an earlier run.
func (e *evaluator) open(n int) error {
	if e.o.OutputPath == "" {
		return nil
	}
	w, done, err := Open(e.o.OutputPath, e.o.Resume)
	if err != nil {
		return err
	}
	e.out = w
	if err := checkDone(e.o.OutputPath, done, e.recs[:n], e.sum.Run, ModelName(e.model)); err != nil {
		return err
	}
	for i := range done {
		e.sum.add(&done[i])
	}
	e.sum.Resumed = len(done)
	return nil
}

// prepare builds sample i's prompt and generation options.
func (e *evaluator) prepare(i int) (*job, error) {
	r := e.recs[i]
	shots, err := ShotIndices(len(e.recs), i, e.o.Shots)
	if err != nil {
		return nil, e.wrap(i, err)
	}
	toks, err := e.model.Tokenize(Prompt(e.recs, i, shots), false, false) // no BOS, as the recipe
	if err != nil {
		return nil, e.wrap(i, err)
	}
	maxTok := r.MaxTokens
	if e.o.MaxTokens > 0 {
		maxTok = e.o.MaxTokens
	}
	j := &job{i: i, shots: shots, total: len(toks)}
	if j.toks, err = e.fit(toks, maxTok); err != nil {
		return nil, e.wrap(i, err)
	}
	j.gen = session.GenOptions{MaxTokens: maxTok, Stop: r.Stop, Sampling: e.sampling(r, i)}
	return j, nil
}

func (e *evaluator) sampling(r Record, i int) session.Sampling {
	t := r.Temperature
	if e.o.Temperature != nil {
		t = *e.o.Temperature
	}
	return session.Sampling{Temperature: t, TopP: r.TopP, Seed: uint64(e.o.Seed + int64(i)), TopLogprobs: e.o.TopLogprobs}
}

// fit checks that a prompt fits a cache that cannot evict while reading it
// (the full policy, or full prefill), and truncates it from the front when
// asked: the article's end holds the instruction to summarize.
func (e *evaluator) fit(toks []int32, maxTok int) ([]int32, error) {
	limit := PromptLimit(e.so, e.cells, maxTok)
	if limit < 0 || len(toks) <= limit {
		return toks, nil
	}
	if limit < 1 {
		return nil, fmt.Errorf("max_tokens %d leaves no room for the prompt in the %d-cell context", maxTok, e.cells)
	}
	if !e.o.Truncate {
		return nil, fmt.Errorf("prompt of %d tokens does not fit the %d-cell context of the %s cache (at most %d with room for %d new tokens): "+
			"use --enable_h2o_generation (chunked prefill evicts while reading), a larger -c, or --truncate",
			len(toks), e.cells, e.so.Resolved(), limit, maxTok)
	}
	return toks[len(toks)-limit:], nil
}

// PromptLimit is the longest prompt a session can take (-1: any). A full
// cache needs room for the prompt and every new token; an evicting cache
// with full prefill needs room for the prompt; chunked prefill has no limit.
func PromptLimit(so session.Options, cells, maxTok int) int {
	switch {
	case !so.Resolved().Evicts():
		return max(cells-maxTok, 0) // not -1: max_tokens may leave no room at all
	case so.Prefill == session.PrefillFull:
		return cells
	}
	return -1
}

// line builds and scores the output line of a generation.
func (e *evaluator) line(j *job, res session.Result, st session.Stats, d time.Duration) (*Line, error) {
	r := e.recs[j.i]
	l := &Line{Request: r.Raw}
	l.Result.Choices = []Choice{{Text: res.Text, Logprobs: e.logprobs(res), FinishReason: string(res.Finish)}}
	l.Result.RequestTime = RequestTime{BatchTime: d.Seconds(), BatchSize: e.batch}
	l.H2O = Meta{Index: j.i, Line: r.Line, Model: ModelName(e.model), Policy: e.so.Resolved().String(), Run: e.sum.Run, Seed: uint64(e.o.Seed + int64(j.i)), GenTokens: len(res.Tokens)}
	for _, k := range j.shots {
		l.H2O.Shots = append(l.H2O.Shots, e.recs[k].Line)
	}
	l.H2O.PromptTokens, l.H2O.Truncated = len(j.toks), j.total-len(j.toks)
	l.H2O.PastTrained = !e.so.Resolved().Rolling && len(j.toks)+len(res.Tokens) > e.model.Info().NCtxTrain
	l.H2O.Cache = CacheStats{Used: st.CacheUsed, Cells: st.CacheCells, Seen: st.Seen, Evictions: st.Evictions}
	l.H2O.Timing = Timing{PromptS: st.PromptTime.Seconds(), GenS: st.GenTime.Seconds(), PromptTPS: st.PromptTPS(), GenTPS: st.GenTPS()}
	var err error
	l.H2O.Rouge, l.H2O.Empty, err = score(res.Text, r.SummaryGT, e.o.OnEmpty)
	return l, err
}

func (e *evaluator) logprobs(res session.Result) Logprobs {
	lp := Logprobs{
		Tokens:        append(make([]string, 0, len(res.Pieces)), res.Pieces...),
		TokenLogprobs: make([]float64, len(res.Logprobs)),
		TopLogprobs:   make([]map[string]float64, 0, len(res.TopLogprobs)),
		TextOffset:    append(make([]int, 0, len(res.Offsets)), res.Offsets...),
	}
	for k, v := range res.Logprobs {
		lp.TokenLogprobs[k] = finite(v)
	}
	for _, alts := range res.TopLogprobs {
		m := make(map[string]float64, len(alts))
		for _, a := range alts {
			m[e.model.Piece(a.Token, false)] = finite(a.Logprob)
		}
		lp.TopLogprobs = append(lp.TopLogprobs, m)
	}
	return lp
}
