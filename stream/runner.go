package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/h2o-kv/h2o/session"
)

// Engine is the KV cache the runner drives; *session.Session satisfies it.
type Engine interface {
	Feed(tokens []int32) error
	Step(tok int32) error
	Logits() []float32
	MakeRoom(n int)
	Stats() session.Stats
}

// Vocab converts between text and tokens; *binding.Model satisfies it.
type Vocab interface {
	Tokenize(text string, addSpecial, parseSpecial bool) ([]int32, error)
	Piece(tok int32, special bool) string
	IsEOG(tok int32) bool
}

// Config drives one streaming run.
type Config struct {
	MaxGenLen int // new tokens per turn at most (the recipe's max_gen_len, 1000)
	Loops     int // passes over the turns, all in the same conversation (0 = 1)
	Budget    int // cache size reported against: the policy budget, or the cells for full
	// EvictForSpace calls MakeRoom(prompt + MaxGenLen) before each prompt, as
	// the recipe's evict_for_space intends (in run_streaming.py it is dead code).
	EvictForSpace bool
	Text          io.Writer        // prompts and generated words (stdout); nil = none
	Progress      Reporter         // live status (stderr); nil = none
	Stats         io.Writer        // one JSON Record per sample, written (and flushed, if it can) as each ends; nil = none
	Memory        func() Memory    // memory sampler; nil = not measured
	Refresh       time.Duration    // least time between live updates (0 = 250ms)
	Now           func() time.Time // clock (tests); nil = time.Now
}

// Record is the state after (or, for live updates, during) one sample.
// Evictions and Seen count from the start of the conversation.
type Record struct {
	Sample       int     `json:"sample"` // 1-based over all loops
	Loop         int     `json:"loop"`   // 1-based
	QuestionID   int     `json:"question_id"`
	Category     string  `json:"category,omitempty"`
	Turn         int     `json:"turn"` // 1-based within the question
	PromptTokens int     `json:"prompt_tokens"`
	GenTokens    int     `json:"generated_tokens"`
	Finish       string  `json:"finish"` // eos | length | error | interrupted
	Seen         int64   `json:"seen_total"`
	CacheUsed    int     `json:"cache_used"`
	CachePeak    int     `json:"cache_peak"` // most tokens seen in the cache during the sample (after MakeRoom, prefill, each step)
	Budget       int     `json:"budget"`
	Evictions    int64   `json:"evictions"`
	PrefillTPS   float64 `json:"prefill_tps"`
	DecodeTPS    float64 `json:"decode_tps"`
	PrefillSec   float64 `json:"prefill_s"`
	DecodeSec    float64 `json:"decode_s"`
	WallSec      float64 `json:"wall_s"` // the whole sample, printing included
	CPUSec       float64 `json:"cpu_s"`  // process CPU time (user+sys) during the sample: throughput on a busy machine
	RSS          int64   `json:"rss_bytes"`
	VRAM         int64   `json:"vram_bytes"`
	Error        string  `json:"error,omitempty"`

	Total     int    `json:"-"` // samples planned
	Loops     int    `json:"-"`
	VRAMTotal int64  `json:"-"`
	Phase     string `json:"-"` // prefill | decode | done (live updates)
}

// Result is what a run did.
type Result struct {
	Records []Record
	Total   int // samples planned
	Loops   int
	Wall    time.Duration
}

// StopError says at which sample the run stopped and why (errors.Is sees
// session.ErrContextFull or context.Canceled through it).
type StopError struct {
	Record Record
	Err    error
}

func (e *StopError) Error() string {
	r := e.Record
	return fmt.Sprintf("sample %d/%d (loop %d, question %d, turn %d) after %d tokens in total: %v",
		r.Sample, r.Total, r.Loop, r.QuestionID, r.Turn, r.Seen, e.Err)
}

func (e *StopError) Unwrap() error { return e.Err }

// Run answers every turn, Loops times, as one conversation: each turn is
// tokenized with the model's BOS (the HF tokenizer default the recipe uses),
// fed after the cache as it is, and answered greedily until EOS or
// MaxGenLen tokens. The records are written to cfg.Stats as each sample ends.
func Run(ctx context.Context, eng Engine, voc Vocab, turns []Turn, cfg Config) (Result, error) {
	if cfg.MaxGenLen < 1 {
		return Result{}, fmt.Errorf("max generation length must be at least 1 (got %d)", cfg.MaxGenLen)
	}
	if len(turns) == 0 {
		return Result{}, errors.New("no turns to stream")
	}
	cfg.Loops = max(cfg.Loops, 1)
	if cfg.Refresh <= 0 {
		cfg.Refresh = 250 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &runner{eng: eng, voc: voc, cfg: cfg}
	res := Result{Total: len(turns) * cfg.Loops, Loops: cfg.Loops}
	start := cfg.Now()
	for loop := 1; loop <= cfg.Loops; loop++ {
		for i, t := range turns {
			rec := Record{
				Sample: (loop-1)*len(turns) + i + 1, Total: res.Total, Loop: loop, Loops: cfg.Loops,
				QuestionID: t.QuestionID, Category: t.Category, Turn: t.Turn, Budget: cfg.Budget,
			}
			err := r.sample(ctx, &rec, t.Text)
			res.Records = append(res.Records, rec)
			if werr := r.writeStats(rec); werr != nil && err == nil {
				err = fmt.Errorf("writing stats: %w", werr)
			}
			if cfg.Progress != nil {
				cfg.Progress.Done(rec)
			}
			if err != nil {
				res.Wall = cfg.Now().Sub(start)
				return res, &StopError{Record: rec, Err: err}
			}
		}
	}
	res.Wall = cfg.Now().Sub(start)
	return res, nil
}

type runner struct {
	eng  Engine
	voc  Vocab
	cfg  Config
	last time.Time // last live update
}

// sample runs one turn and fills rec; the returned error stops the run.
func (r *runner) sample(ctx context.Context, rec *Record, turn string) (err error) {
	before := r.eng.Stats()
	start, cpu0 := r.cfg.Now(), cpuTime()
	defer func() {
		r.fill(rec, before)
		rec.WallSec = r.cfg.Now().Sub(start).Seconds()
		rec.CPUSec = (cpuTime() - cpu0).Seconds()
		rec.Phase = "done"
		if err != nil {
			rec.Finish = "error"
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				rec.Finish = "interrupted"
			}
			rec.Error = err.Error()
		}
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	prompt := Prompt(turn)
	toks, err := r.voc.Tokenize(prompt, true, false)
	if err != nil {
		return err
	}
	rec.PromptTokens = len(toks)
	if r.cfg.EvictForSpace {
		r.eng.MakeRoom(len(toks) + r.cfg.MaxGenLen)
	}
	r.peak(rec)
	// the status before the text: a terminal reporter may set up its row
	// while the text's cursor is still at the start of a line
	rec.Phase = "prefill"
	r.update(rec, before, true)
	if r.cfg.Text != nil {
		if _, err := io.WriteString(r.cfg.Text, "\n"+prompt); err != nil {
			return err
		}
	}
	if err := r.eng.Feed(toks); err != nil {
		return err
	}
	r.peak(rec)
	rec.Phase = "decode"
	return r.generate(ctx, rec, before)
}

// generate is greedy_generate: argmax until EOS or MaxGenLen tokens; the
// last token (EOS or the MaxGenLen-th) is not fed back, as in the recipe.
func (r *runner) generate(ctx context.Context, rec *Record, before session.Stats) (err error) {
	var pr *wordPrinter
	if r.cfg.Text != nil {
		pr = &wordPrinter{w: r.cfg.Text}
		defer func() {
			if ferr := pr.finish(); err == nil {
				err = ferr
			}
		}()
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		logits := r.eng.Logits()
		if logits == nil {
			return errors.New("no logits after the last decode")
		}
		tok := argmax(logits)
		if r.voc.IsEOG(tok) {
			rec.Finish = "eos"
			return nil
		}
		rec.GenTokens++
		if pr != nil {
			if err := pr.add(r.voc.Piece(tok, false)); err != nil {
				return err
			}
		}
		if rec.GenTokens >= r.cfg.MaxGenLen {
			rec.Finish = "length"
			return nil
		}
		if err := r.eng.Step(tok); err != nil {
			return err
		}
		r.peak(rec)
		r.update(rec, before, false)
	}
}

// argmax is the greedy choice (first maximum, as torch.argmax).
func argmax(v []float32) int32 {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return int32(best)
}

func (r *runner) peak(rec *Record) {
	rec.CachePeak = max(rec.CachePeak, r.eng.Stats().CacheUsed)
}

// fill sets the counters of rec from the session's statistics.
func (r *runner) fill(rec *Record, before session.Stats) {
	st := r.eng.Stats()
	rec.Seen, rec.CacheUsed, rec.Evictions = st.Seen, st.CacheUsed, st.Evictions
	rec.CachePeak = max(rec.CachePeak, st.CacheUsed)
	pt, gt := st.PromptTime-before.PromptTime, st.GenTime-before.GenTime
	rec.PrefillSec, rec.DecodeSec = pt.Seconds(), gt.Seconds()
	rec.PrefillTPS = rate(st.PromptTokens-before.PromptTokens, pt)
	rec.DecodeTPS = rate(st.GenTokens-before.GenTokens, gt)
	if r.cfg.Memory != nil {
		m := r.cfg.Memory()
		rec.RSS, rec.VRAM, rec.VRAMTotal = m.RSS, m.VRAMUsed, m.VRAMTotal
	}
}

// update sends a live status, at most every Refresh unless forced.
func (r *runner) update(rec *Record, before session.Stats, force bool) {
	if r.cfg.Progress == nil {
		return
	}
	now := r.cfg.Now()
	if !force && now.Sub(r.last) < r.cfg.Refresh {
		return
	}
	r.last = now
	live := *rec
	r.fill(&live, before)
	r.cfg.Progress.Update(live)
}

func (r *runner) writeStats(rec Record) error {
	if r.cfg.Stats == nil {
		return nil
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if _, err = r.cfg.Stats.Write(append(b, '\n')); err != nil {
		return err
	}
	if f, ok := r.cfg.Stats.(interface{ Flush() error }); ok {
		return f.Flush()
	}
	return nil
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
