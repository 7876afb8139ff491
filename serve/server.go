// Package serve is an OpenAI-compatible HTTP server over a session.Batcher:
// completions and chat completions (streamed as server-sent events or
// not), continuous batching with a bounded queue, per-request H2O policy
// overrides, Prometheus metrics, and a drain on shutdown.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/session"
)

// Config are a server's settings.
type Config struct {
	ModelID string // the model's name in requests and /v1/models
	// Template is the chat template (see chat.Template); when empty the
	// chat endpoint answers 400 with NoTemplate's message.
	Template   string
	NoTemplate error
	Policy     h2o.Config // the default policy, which a request's "h2o" object changes
	MaxTokens  int        // max_tokens of a request that gives none
	Queue      int        // requests waiting for a slot at most (beyond: 503)
	MaxBody    int64      // request body size limit in bytes (beyond: 413)
	Log        io.Writer  // one line per request (nil: none)
}

// Server serves one model. Its handler answers from the start (/health
// with 503 while the model loads); Start makes it take requests.
type Server struct {
	cfg     Config
	model   *binding.Model
	b       *session.Batcher
	queue   chan *job
	metrics *metrics
	log     *log.Logger

	ready    atomic.Bool
	stopOnce sync.Once
	stop     chan struct{} // closed by Drain: no new requests
	abort    chan struct{} // closed by Abort: end every request now
	loopDone chan struct{}
	nextID   atomic.Int64
}

// New creates a server that is not ready yet.
func New(cfg Config) *Server {
	if cfg.Queue <= 0 {
		cfg.Queue = 64
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 4 << 20
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = 256
	}
	s := &Server{cfg: cfg, queue: make(chan *job, cfg.Queue), stop: make(chan struct{}), abort: make(chan struct{}), loopDone: make(chan struct{})}
	w := cfg.Log
	if w == nil {
		w = io.Discard
	}
	s.log = log.New(w, "h2o: ", log.LstdFlags)
	s.metrics = newMetrics(s)
	return s
}

// ModelID is the model's name in requests.
func (s *Server) ModelID() string { return s.cfg.ModelID }

// SetTemplate sets the chat template (or why there is none) before Start.
func (s *Server) SetTemplate(tmpl string, none error) { s.cfg.Template, s.cfg.NoTemplate = tmpl, none }

// Start serves requests on b (which the server then owns until Wait
// returns) and runs the batching loop.
func (s *Server) Start(model *binding.Model, b *session.Batcher) {
	s.model, s.b = model, b
	s.metrics.cells.Set(float64(b.Slots() * b.CellsPerSequence()))
	s.metrics.slots.Set(float64(b.Slots()))
	go s.loop()
	s.ready.Store(true)
}

// Drain stops taking requests (they answer 503); queued and running ones
// go on. Wait returns when they are done.
func (s *Server) Drain() { s.stopOnce.Do(func() { close(s.stop) }) }

// Abort ends every queued and running request now: streams get a final
// chunk (finish_reason "length") and [DONE]. It drains first.
func (s *Server) Abort() {
	s.Drain()
	select {
	case <-s.abort:
	default:
		close(s.abort)
	}
}

// Wait blocks until the batching loop ended (after Drain, when no request
// is left).
func (s *Server) Wait() {
	if s.ready.Load() {
		<-s.loopDone
	}
}

func (s *Server) draining() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// job is one request between its handler and the batching loop.
type job struct {
	id       int
	ctx      context.Context
	req      session.Request
	policy   h2o.Resolved
	enqueued time.Time

	mu     sync.Mutex
	text   strings.Builder // pieces sampled so far
	first  time.Time       // first piece
	notify chan struct{}   // a piece arrived (capacity 1)
	done   chan session.Done
}

func (j *job) onPiece(p string) bool {
	j.mu.Lock()
	if j.first.IsZero() {
		j.first = time.Now()
	}
	j.text.WriteString(p)
	j.mu.Unlock()
	select {
	case j.notify <- struct{}{}:
	default:
	}
	return true
}

// snapshot is the text sampled so far.
func (j *job) snapshot() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.text.String()
}

// loop owns the Batcher: it starts queued requests in free slots, ends
// those whose client went away (before each step, so a slot is free
// within one step) and steps.
func (s *Server) loop() {
	defer close(s.loopDone)
	running := map[int]*job{}
	finish := func(j *job, d session.Done) {
		delete(running, j.id)
		s.metrics.finished(j, d)
		j.done <- d
	}
	for {
		aborting := false
		select {
		case <-s.abort:
			aborting = true
		default:
		}
		for s.b.Active() < s.b.Slots() {
			var j *job
			if len(running) == 0 && !aborting {
				select {
				case j = <-s.queue:
				case <-s.stop:
					select {
					case j = <-s.queue:
					default:
						return
					}
				case <-s.abort:
					aborting = true
					continue
				}
			} else {
				select {
				case j = <-s.queue:
				default:
				}
			}
			if j == nil {
				break
			}
			if aborting || j.ctx.Err() != nil {
				j.done <- session.Done{ID: j.id, Err: session.ErrCancelled}
				continue
			}
			if err := s.b.Start(j.req); err != nil {
				j.done <- session.Done{ID: j.id, Err: err}
				continue
			}
			running[j.id] = j
		}
		for id, j := range running {
			if aborting || j.ctx.Err() != nil {
				d, _ := s.b.Cancel(id)
				finish(j, d)
			}
		}
		if aborting && len(running) == 0 && len(s.queue) == 0 && s.draining() {
			return
		}
		if s.b.Active() == 0 {
			continue
		}
		before := s.b.Stats()
		done, err := s.b.Step(false)
		s.metrics.stepped(before, s.b.Stats(), s.b.Active(), s.b.CacheUsed())
		for _, d := range done {
			if j := running[d.ID]; j != nil {
				finish(j, d)
			}
		}
		if err != nil {
			// the batch as a whole failed: its sequences' state is unknown
			s.log.Printf("decode failed: %v (ending %d requests)", err, len(running))
			for id, j := range running {
				d, _ := s.b.Cancel(id)
				d.Err = fmt.Errorf("decode failed: %w", err)
				finish(j, d)
			}
		}
	}
}

// errQueueFull and errDraining answer 503.
var (
	errQueueFull = errors.New("the queue is full: try again shortly")
	errDraining  = errors.New("the server is shutting down")
)

// submit queues a job for the loop.
func (s *Server) submit(j *job) error {
	if s.draining() {
		return errDraining
	}
	select {
	case s.queue <- j:
		return nil
	default:
		return errQueueFull
	}
}

// newJob builds a job from a checked prompt and generation parameters.
func (s *Server) newJob(ctx context.Context, prompt []int32, p genParams) (*job, *httpError) {
	maxTok := s.cfg.MaxTokens
	if p.MaxCompletionTokens != nil {
		maxTok = *p.MaxCompletionTokens
	}
	if p.MaxTokens != nil {
		maxTok = *p.MaxTokens
	}
	if maxTok < 1 {
		return nil, badRequest("invalid_value", "max_tokens must be at least 1")
	}
	sm := session.Sampling{Temperature: 1, TopP: 1, Seed: rand.Uint64()}
	if p.Temperature != nil {
		if *p.Temperature < 0 || *p.Temperature > 2 {
			return nil, badRequest("invalid_value", "temperature must be between 0 and 2")
		}
		sm.Temperature = *p.Temperature
	}
	if p.TopP != nil {
		if *p.TopP <= 0 || *p.TopP > 1 {
			return nil, badRequest("invalid_value", "top_p must be in (0, 1]")
		}
		sm.TopP = *p.TopP
	}
	if p.Seed != nil {
		sm.Seed = uint64(*p.Seed)
	}
	if p.N != nil && *p.N != 1 {
		return nil, badRequest("invalid_value", "n must be 1: one choice per request")
	}
	st, err := stops(p.Stop)
	if err != nil {
		return nil, badRequest("invalid_value", err.Error())
	}
	if len(prompt) == 0 {
		return nil, badRequest("invalid_value", "the prompt is empty")
	}
	id := int(s.nextID.Add(1))
	j := &job{id: id, ctx: ctx, enqueued: time.Now(), notify: make(chan struct{}, 1), done: make(chan session.Done, 1)}
	j.req = session.Request{ID: id, Prompt: prompt, Gen: session.GenOptions{MaxTokens: maxTok, Stop: st, Sampling: sm, TextOnly: true, IgnoreEOS: p.IgnoreEOS}, OnPiece: j.onPiece}
	if p.H2O != nil {
		c, err := p.H2O.apply(s.cfg.Policy)
		if err != nil {
			return nil, badRequest("invalid_policy", err.Error())
		}
		j.req.Policy = &c
	}
	j.policy, err = s.b.CheckRequest(j.req)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), session.ErrRequest.Error()+": ")
		if errors.Is(err, session.ErrContextFull) {
			return nil, badRequest("context_length_exceeded", msg)
		}
		return nil, badRequest("invalid_policy", msg)
	}
	return j, nil
}

// finishReason is the OpenAI finish_reason of a done request: a sequence
// whose cells filled up (a non-evicting policy) or that the server ended at
// shutdown stopped at a length limit.
func finishReason(d session.Done) string {
	if d.Err != nil {
		return "length"
	}
	return string(d.Result.Finish)
}

// fatal reports whether a done request failed rather than ended early.
func fatal(d session.Done) bool {
	return d.Err != nil && !errors.Is(d.Err, session.ErrContextFull) && !errors.Is(d.Err, session.ErrCancelled)
}

// streamable is the part of text that is safe to send: text less a tail
// that may be the start of a stop string (which would then be cut) or an
// incomplete UTF-8 character.
func streamable(text string, stop []string) string {
	hold := 0
	for _, st := range stop {
		for k := min(len(st)-1, len(text)); k > hold; k-- {
			if strings.HasSuffix(text, st[:k]) {
				hold = k
				break
			}
		}
	}
	text = text[:len(text)-hold]
	if n := len(text); n > 0 {
		start := n - 1
		for start > 0 && n-start < utf8.UTFMax && !utf8.RuneStart(text[start]) {
			start--
		}
		if !utf8.FullRuneInString(text[start:]) {
			text = text[:start]
		}
	}
	return text
}

// policyUsage is the usage's echo of the policy and what it did.
func (s *Server) policyUsage(j *job, d session.Done) *usagePolicy {
	p := j.policy
	u := &usagePolicy{Mode: string(p.Policy), Rolling: p.Rolling, Evictions: d.Stats.Evictions, CacheTokens: d.Stats.CacheUsed, CacheCells: s.b.CellsPerSequence()}
	if p.Evicts() {
		u.Budget, u.Heavy, u.Recent = p.Budget, p.HeavyHitters, p.Recent
	}
	return u
}

func (s *Server) usage(j *job, d session.Done) *usage {
	return &usage{PromptTokens: len(j.req.Prompt), CompletionTokens: d.Result.NTokens, TotalTokens: len(j.req.Prompt) + d.Result.NTokens, H2O: s.policyUsage(j, d)}
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", s.health)
	mux.Handle("/metrics", s.metrics.handler())
	mux.HandleFunc("/v1/models", s.ready2(s.models))
	mux.HandleFunc("/v1/completions", s.ready2(s.completions))
	mux.HandleFunc("/v1/chat/completions", s.ready2(s.chatCompletions))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &httpError{http.StatusNotFound, "invalid_request_error", "not_found", "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
	return s.logged(mux)
}

// ready2 answers 503 until Start.
func (s *Server) ready2(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			w.Header().Set("Retry-After", "1")
			writeError(w, &httpError{http.StatusServiceUnavailable, "server_error", "loading", "the model is loading"})
			return
		}
		h(w, r)
	}
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	switch {
	case !s.ready.Load():
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "loading"})
	case s.draining():
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeError(w, methodNotAllowed(r))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []map[string]any{
		{"id": s.cfg.ModelID, "object": "model", "created": 0, "owned_by": "h2o"},
	}})
}
