package summarize

import (
	"fmt"
	"strings"
	"time"

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
	n = min(n, len(recs))
	e := &evaluator{s: s, recs: recs, o: o, sum: &Summary{Run: RunLabel(s.Options(), o)}}
	if err := e.open(n); err != nil {
		return e.sum, err
	}
	if e.out != nil {
		defer e.out.Close()
	}
	if obs != nil {
		obs.Start(n, e.sum.Resumed)
	}
	for i := e.sum.Resumed; i < n; i++ {
		l, err := e.sample(i)
		if err != nil {
			return e.sum, fmt.Errorf("sample %d (%s): %w", i, recs[i].Where(), err)
		}
		if e.out != nil {
			if err := e.out.Write(l); err != nil {
				return e.sum, err
			}
		}
		e.sum.add(l)
		if obs != nil {
			obs.Sample(l, &e.sum.Avg)
		}
	}
	return e.sum, nil
}

// RunLabel names the policy and the settings that change the output; a
// resumed run must match it.
func RunLabel(so session.Options, o Options) string {
	parts := []string{so.Policy.String()}
	if so.Policy.Evicts() {
		if so.Policy.Rolling {
			parts = append(parts, "rolling")
		}
		parts = append(parts, "prefill="+string(so.Prefill), "score="+so.Policy.Score.String(), "agg="+string(so.Policy.Aggregate))
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
	s    *session.Session
	recs []Record
	o    Options
	out  *Writer
	sum  *Summary
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
	if err := checkDone(e.o.OutputPath, done, e.recs[:n], e.sum.Run); err != nil {
		return err
	}
	for i := range done {
		e.sum.add(&done[i])
	}
	e.sum.Resumed = len(done)
	return nil
}

// sample generates and scores sample i.
func (e *evaluator) sample(i int) (*Line, error) {
	r := e.recs[i]
	shots, err := ShotIndices(len(e.recs), i, e.o.Shots)
	if err != nil {
		return nil, err
	}
	toks, err := e.s.Model().Tokenize(Prompt(e.recs, i, shots), false, false) // no BOS, as the recipe
	if err != nil {
		return nil, err
	}
	maxTok := r.MaxTokens
	if e.o.MaxTokens > 0 {
		maxTok = e.o.MaxTokens
	}
	total := len(toks)
	if toks, err = e.fit(toks, maxTok); err != nil {
		return nil, err
	}
	before := e.s.Stats()
	start := time.Now()
	e.s.Reset()
	if err := e.s.Feed(toks); err != nil {
		return nil, err
	}
	res, err := e.s.Generate(session.GenOptions{MaxTokens: maxTok, Stop: r.Stop, Sampling: e.sampling(r, i)}, nil)
	if err != nil {
		return nil, err
	}
	l := e.line(i, shots, res, time.Since(start))
	l.H2O.PromptTokens, l.H2O.Truncated = len(toks), total-len(toks)
	l.H2O.PastTrained = !e.s.Options().Policy.Rolling && len(toks)+len(res.Tokens) > e.s.Model().Info().NCtxTrain
	e.cacheStats(l, before)
	l.H2O.Rouge, l.H2O.Empty, err = score(res.Text, r.SummaryGT, e.o.OnEmpty)
	return l, err
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
	limit := PromptLimit(e.s.Options(), e.s.Context().NCtx(), maxTok)
	if limit < 0 || len(toks) <= limit {
		return toks, nil
	}
	if limit < 1 {
		return nil, fmt.Errorf("max_tokens %d leaves no room for the prompt in the %d-cell context", maxTok, e.s.Context().NCtx())
	}
	if !e.o.Truncate {
		return nil, fmt.Errorf("prompt of %d tokens does not fit the %d-cell context of the %s cache (at most %d with room for %d new tokens): "+
			"use --enable_h2o_generation (chunked prefill evicts while reading), a larger -c, or --truncate",
			len(toks), e.s.Context().NCtx(), e.s.Options().Policy, limit, maxTok)
	}
	return toks[len(toks)-limit:], nil
}

// PromptLimit is the longest prompt a session can take (-1: any). A full
// cache needs room for the prompt and every new token; an evicting cache
// with full prefill needs room for the prompt; chunked prefill has no limit.
func PromptLimit(so session.Options, cells, maxTok int) int {
	switch {
	case !so.Policy.Evicts():
		return cells - maxTok
	case so.Prefill == session.PrefillFull:
		return cells
	}
	return -1
}

// line builds the output line of a generation (without scores).
func (e *evaluator) line(i int, shots []int, res session.Result, d time.Duration) *Line {
	r := e.recs[i]
	l := &Line{Request: r.Raw}
	l.Result.Choices = []Choice{{Text: res.Text, Logprobs: e.logprobs(res), FinishReason: string(res.Finish)}}
	l.Result.RequestTime = RequestTime{BatchTime: d.Seconds(), BatchSize: 1}
	l.H2O = Meta{Index: i, Line: r.Line, Policy: e.s.Options().Policy.String(), Run: e.sum.Run, Seed: uint64(e.o.Seed + int64(i)), GenTokens: len(res.Tokens)}
	for _, j := range shots {
		l.H2O.Shots = append(l.H2O.Shots, e.recs[j].Line)
	}
	return l
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
			m[e.s.Model().Piece(a.Token, false)] = finite(a.Logprob)
		}
		lp.TopLogprobs = append(lp.TopLogprobs, m)
	}
	return lp
}

// cacheStats records the cache and the time of this sample (session
// counters are cumulative, so the sample's share is a difference).
func (e *evaluator) cacheStats(l *Line, before session.Stats) {
	st := e.s.Stats()
	l.H2O.Cache = CacheStats{Used: st.CacheUsed, Cells: st.CacheCells, Seen: st.Seen, Evictions: st.Evictions - before.Evictions}
	pt, gt := st.PromptTime-before.PromptTime, st.GenTime-before.GenTime
	l.H2O.Timing = Timing{PromptS: pt.Seconds(), GenS: gt.Seconds()}
	if pt > 0 {
		l.H2O.Timing.PromptTPS = float64(st.PromptTokens-before.PromptTokens) / pt.Seconds()
	}
	if gt > 0 {
		l.H2O.Timing.GenTPS = float64(st.GenTokens-before.GenTokens) / gt.Seconds()
	}
}
