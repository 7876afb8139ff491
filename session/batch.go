package session

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/internal/par"
)

// Request is one prompt to generate from in a Batcher.
type Request struct {
	ID     int // the caller's identification, returned in Done
	Prompt []int32
	Gen    GenOptions
	// Policy, when set, replaces the Batcher's policy for this request
	// (CheckRequest says which ones its context can run).
	Policy *h2o.Config
	// OnPiece, when set, receives each generated token's text as it is
	// sampled and may return false to end the generation. It is called from
	// the step's worker goroutines, one call at a time per request.
	OnPiece func(piece string) bool
}

// Done is a finished request.
type Done struct {
	ID     int
	Result Result
	Stats  Stats // this request's cache and timing (times are the wall time of the steps it took part in)
	Err    error // this request failed (e.g. ErrContextFull); the others go on
}

// Batcher runs up to N sequences on one llama.cpp context, each with its own
// H2O state (scores, budget, recent window, rolling positions), sampler and
// stop conditions. Every Step decodes one token of each generating sequence
// together with prompt chunks of new ones (continuous batching: a finished
// sequence's slot takes the next request at once).
//
// Each sequence has its own KV stream of Options.NCtx cells (default: the
// budget plus one prefill chunk when evicting), so it attends and evicts only
// its own tokens. Prompts are read in the same chunks as Session.Feed, so a
// greedy generation is the same as on a Session with the same Options.
type Batcher struct {
	opts    Options
	model   *binding.Model
	ctx     *binding.Context
	batch   *binding.Batch
	slots   []*slot
	chunk   int
	cells   int // cells of each sequence's stream
	nVocab  int
	workers int

	prefilling, generating []*slot // scratch of a step
	part                   []*slot // the sequences in this step, in id order
	maxStreams             int     // sequences per decode call
	// deviceArgmax: a decode whose outputs are all greedy without
	// log-probabilities copies back only each output's largest logit's index
	// (computed on the backend), not the logits; on a GPU, where the copy
	// and the host's scan of every vocabulary are a step's cost
	deviceArgmax bool
	argmax       bool // the last decode ran with it
	logits       [][]float32
	stats        BatchStats
}

// BatchStats count what a Batcher did, over all sequences.
type BatchStats struct {
	Steps        int
	PromptTokens int
	GenTokens    int
	Evictions    int64
	Elapsed      time.Duration // time spent in Step
	DecodeTime   time.Duration // of which in llama.cpp's decode (to completion)
	// The rest of Elapsed, by part: building the batch (and evicting to make
	// room), getting the logits, and the sequences' policy, evictions and
	// sampling (on several cores).
	BatchTime, LogitsTime, PolicyTime time.Duration
	Finished                          int
}

// TPS is all tokens (prompt and generated) per second of stepping.
func (s BatchStats) TPS() float64 { return rate(s.PromptTokens+s.GenTokens, s.Elapsed) }

type slotState int

const (
	slotIdle slotState = iota
	slotPrefill
	slotGenerate
)

type slot struct {
	seq     *sequence
	state   slotState
	id      int
	prompt  []int32 // prompt tokens not yet decoded
	gen     *generation
	onPiece func(string) bool
	pending int32 // sampled, to be decoded by the next step
	// this step
	chunk    int  // tokens in the batch (0: not in it)
	logitIdx int  // output row of its logits (batch order), -1: none
	evict    bool // evict after the decode
	finished bool // ended in this step
	err      error
	before   Stats
}

// NewBatcher creates a context for n sequences. Options.NCtx, when set, is
// the number of cells of each sequence.
func NewBatcher(model *binding.Model, opts Options, n int) (*Batcher, error) {
	if n < 1 || n > binding.MaxSequences() {
		return nil, fmt.Errorf("parallel sequences: %d, want 1 to %d", n, binding.MaxSequences())
	}
	opts, err := opts.resolve(onGPU(model))
	if err != nil {
		return nil, err
	}
	if opts.policy.Granularity == h2o.PerHead {
		// Its moves and cell positions address a single-stream cache (the
		// row moves have no per-stream form): a Session runs it.
		return nil, errors.New("granularity head moves rows of a single-stream cache: it runs one sequence per context (use --parallel 1)")
	}
	if opts.policy.NeedsKeys() || opts.policy.Prompt.Kind != "" {
		// key statistics run a graph of their own that applies the whole
		// cache's pending shifts; prompt rules cut a prompt read whole: not
		// while other sequences evict
		return nil, fmt.Errorf("%s runs one sequence per context (use --parallel 1)", opts.policy)
	}
	info := model.Info()
	per := opts.contextSize(info.NCtxTrain)
	if opts.policy.Evicts() && per < opts.policy.Budget+1 {
		return nil, fmt.Errorf("context of %d cells per sequence cannot hold the budget of %d tokens plus one", per, opts.policy.Budget)
	}
	chunk := min(opts.Chunk, per)
	// One decode holds a token of every sequence and at least one whole chunk.
	nb := n + chunk
	ctx, err := binding.NewContext(model, binding.ContextParams{
		NCtx: n * opts.streamCells(info.NCtxTrain), NSeqMax: n, NBatch: nb, NUbatch: nb, Threads: opts.Threads,
		FlashAttn: opts.FlashAttn, TypeK: opts.TypeK, TypeV: opts.TypeV, Scores: opts.Scores,
		RotateOnRead: opts.rotateOnRead, Profile: opts.Profile,
	})
	if err != nil {
		return nil, err
	}
	lay := ctx.Layout()
	if n > 1 && lay.NStream != n {
		ctx.Close()
		return nil, fmt.Errorf("context has %d KV streams for %d sequences", lay.NStream, n)
	}
	b := &Batcher{opts: opts, model: model, ctx: ctx, batch: binding.NewBatch(nb), chunk: chunk, cells: lay.StreamSize, nVocab: info.NVocab,
		workers: min(n, runtime.GOMAXPROCS(0)), maxStreams: n, deviceArgmax: opts.gpu}
	if !ctx.FlashAttn() {
		// Without flash attention the attention is a matrix product batched
		// over heads x sequences, which CUDA takes only up to 1024 (more runs
		// it on the CPU, copying the cache): decode such steps in groups.
		// With it, a decode step is one kernel per layer, scores or not.
		b.maxStreams = max(1, min(n, 1024/info.NHead))
	}
	for i := 0; i < n; i++ {
		q, err := newSequence(int32(i), opts, info, lay.Stream(i), lay.StreamSize)
		if err != nil {
			b.Close()
			return nil, err
		}
		b.slots = append(b.slots, &slot{seq: q, logitIdx: -1})
	}
	return b, nil
}

// Close frees the context and batch.
func (b *Batcher) Close() error {
	b.batch.Close()
	return b.ctx.Close()
}

// Options are the effective options (defaults filled in).
func (b *Batcher) Options() Options { return b.opts }

// Context is the underlying llama.cpp context.
func (b *Batcher) Context() *binding.Context { return b.ctx }

// Slots is the number of sequences that can run at once.
func (b *Batcher) Slots() int { return len(b.slots) }

// CellsPerSequence is the size of each sequence's KV stream.
func (b *Batcher) CellsPerSequence() int { return b.cells }

// Stats are the counters over all sequences so far.
func (b *Batcher) Stats() BatchStats { return b.stats }

// Active is the number of sequences prefilling or generating.
func (b *Batcher) Active() int {
	n := 0
	for _, s := range b.slots {
		if s.state != slotIdle {
			n++
		}
	}
	return n
}

// Prefilling is the number of sequences still reading their prompt.
func (b *Batcher) Prefilling() int {
	n := 0
	for _, s := range b.slots {
		if s.state == slotPrefill {
			n++
		}
	}
	return n
}

// ErrNoSlot is returned by Start when every slot is busy.
var ErrNoSlot = errors.New("no free slot")

// Start puts a request in the lowest free slot (consecutive sequence ids
// decode in fewer micro-batches); the next Steps read its prompt.
func (b *Batcher) Start(r Request) error {
	policy, err := b.CheckRequest(r)
	if err != nil {
		return err
	}
	for _, s := range b.slots {
		if s.state != slotIdle {
			continue
		}
		s.seq.reset(b.ctx)
		s.seq.setPolicy(policy)
		s.state, s.id, s.prompt, s.err = slotPrefill, r.ID, r.Prompt, nil
		s.gen, s.onPiece = newGeneration(r.Gen, b.model), r.OnPiece
		s.seq.stats.PastTrained = false // per request
		s.before = s.seq.snapshot()
		return nil
	}
	return ErrNoSlot
}

// Step runs one decode: a token of every generating sequence and the next
// prompt chunk of sequences still reading theirs (as many whole chunks as
// the batch holds). With prefillOnly, generating sequences wait (to time
// prompt and generation apart). It returns the requests that finished.
func (b *Batcher) Step(prefillOnly bool) ([]Done, error) {
	start := time.Now()
	b.prefilling, b.generating, b.part = b.prefilling[:0], b.generating[:0], b.part[:0]
	var done []Done
	used := 0
	for _, s := range b.slots {
		s.chunk, s.logitIdx, s.evict, s.finished = 0, -1, false, false
	}
	// Generating sequences first: each needs one token of the batch, which
	// holds one per sequence plus a chunk; prompt chunks take what is left.
	for _, s := range b.slots {
		if s.state != slotGenerate || prefillOnly {
			continue
		}
		if !s.seq.policy.Evicts() && s.seq.len()+1 > b.cells {
			s.err = s.seq.fullError(1)
			done = append(done, b.finish(s))
			continue
		}
		s.chunk, s.evict = 1, true
		b.generating = append(b.generating, s)
		used++
		b.part = append(b.part, s)
	}
	for _, s := range b.slots {
		if s.state != slotPrefill {
			continue
		}
		n := min(b.chunk, len(s.prompt))
		if used+n > b.batch.Cap() {
			continue // whole chunks only: the same chunks as Session.Feed
		}
		full := b.opts.Prefill == PrefillFull || !s.seq.policy.Evicts()
		s.chunk, s.evict = n, !full || n == len(s.prompt)
		b.prefilling = append(b.prefilling, s)
		used += s.chunk
		b.part = append(b.part, s)
	}
	// Decode in groups of at most maxStreams sequences (see NewBatcher).
	for i := 0; i < len(b.part); {
		j := min(i+b.maxStreams, len(b.part))
		if err := b.decodeGroup(b.part[i:j]); err != nil {
			return done, err
		}
		i = j
	}
	d := time.Since(start)
	for _, s := range b.prefilling {
		s.seq.stats.PromptTokens += s.chunk
		s.seq.stats.PromptTime += d
		b.stats.PromptTokens += s.chunk
	}
	for _, s := range b.generating {
		s.seq.stats.GenTokens++
		s.seq.stats.GenTime += d
		b.stats.GenTokens++
	}
	for _, s := range b.slots {
		if s.finished {
			done = append(done, b.finish(s))
		}
	}
	if len(b.part) > 0 {
		b.stats.Steps++
	}
	b.stats.Elapsed += time.Since(start)
	return done, nil
}

// decodeGroup puts the group's tokens in one batch, decodes it and does
// the sequences' share of the step.
func (b *Batcher) decodeGroup(group []*slot) error {
	t0 := time.Now()
	b.batch.Clear()
	outputs := 0
	for _, s := range group {
		if s.state == slotGenerate {
			if err := s.seq.room(b.ctx, 1); err != nil {
				return err
			}
			s.logitIdx = outputs
			outputs++
			s.seq.add(b.batch, []int32{s.pending}, true)
			continue
		}
		n := s.chunk
		if b.opts.Prefill != PrefillFull && s.seq.policy.Evicts() {
			if err := s.seq.room(b.ctx, n); err != nil {
				return err
			}
		}
		last := n == len(s.prompt)
		if last {
			s.logitIdx = outputs
			outputs++
		}
		s.seq.add(b.batch, s.prompt[:n], last)
		s.prompt = s.prompt[n:]
	}
	t1 := time.Now()
	b.stats.BatchTime += t1.Sub(t0)
	b.argmax = b.deviceArgmax && outputs > 0
	for _, s := range group {
		if s.logitIdx >= 0 && !s.gen.greedyID() {
			b.argmax = false
		}
	}
	b.ctx.SetOutputArgmax(b.argmax)
	if err := b.ctx.Decode(b.batch); err != nil {
		if errors.Is(err, binding.ErrKVFull) {
			err = fmt.Errorf("%w: a sequence's KV stream of %d cells is full", ErrContextFull, b.cells)
		}
		return err
	}
	b.ctx.Synchronize()
	b.stats.DecodeTime += time.Since(t1)
	return b.afterDecode(group)
}

// afterDecode feeds each sequence's attention to its policy, evicts, and
// samples where the decode produced logits. The per-sequence work runs on
// several goroutines: each sequence reads and evicts only the cells of its
// own KV stream (binding.Context.RemoveRange).
func (b *Batcher) afterDecode(group []*slot) error {
	var sc binding.Scores
	scores := b.opts.policy.NeedsScores()
	if scores {
		var ok bool
		if sc, ok = b.ctx.Scores(); !ok {
			return errNoScores
		}
	}
	if cap(b.logits) < len(group) {
		b.logits = make([][]float32, len(group))
	}
	logits := b.logits[:len(group)]
	t0 := time.Now()
	var ids []int32
	if b.argmax {
		if ids = b.ctx.OutputArgmax(); ids == nil {
			return errors.New("the decode computed no greedy token ids")
		}
	} else {
		all, nv := b.ctx.OutputLogits(), b.nVocab
		for i, s := range group {
			logits[i] = nil
			if s.logitIdx >= 0 {
				logits[i] = all[s.logitIdx*nv : (s.logitIdx+1)*nv]
			}
		}
	}
	t1 := time.Now()
	b.stats.LogitsTime += t1.Sub(t0)
	var mu sync.Mutex
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		firstErr = errors.Join(firstErr, err)
		mu.Unlock()
	}
	par.For(len(group), b.workers, func(i int) {
		s := group[i]
		if scores {
			// reads only the context: nothing decodes or evicts meanwhile
			if err := s.seq.attend(b.ctx, sc); err != nil {
				fail(err)
				return
			}
		}
		if s.evict {
			if err := s.seq.evict(b.ctx, -1); err != nil {
				fail(err)
				return
			}
		}
		var tok int32
		var more bool
		switch {
		case ids != nil && s.logitIdx >= 0:
			tok, more = s.gen.nextID(ids[s.logitIdx], s.onPiece)
		case ids == nil && logits[i] != nil:
			tok, more = s.gen.next(logits[i], s.onPiece)
		default:
			return
		}
		if s.gen.err != nil {
			fail(s.gen.err)
			return
		}
		if !more || s.gen.atLimit() {
			s.finished = true // reported by Step; its last token needs no decode
			return
		}
		s.state, s.pending = slotGenerate, tok
	})
	if firstErr != nil {
		return firstErr
	}
	b.stats.PolicyTime += time.Since(t1)
	return nil
}

// finish reports a slot's request and frees the slot.
func (b *Batcher) finish(s *slot) Done {
	d := Done{ID: s.id, Result: s.gen.result(), Err: s.err, Stats: s.seq.snapshot().Since(s.before)}
	b.stats.Evictions += d.Stats.Evictions
	b.stats.Finished++
	s.state, s.finished, s.gen, s.prompt, s.onPiece = slotIdle, false, nil, nil, nil
	return d
}

// Run starts requests from next as slots free up and steps until next has
// none left and every sequence finished, calling onDone for each (in the
// order they finish). An error of one request is in its Done; Run stops
// on errors of the whole batch.
func (b *Batcher) Run(next func() (Request, bool), onDone func(Done) error) error {
	more := true
	for {
		for more && b.Active() < len(b.slots) {
			var r Request
			if r, more = next(); !more {
				break
			}
			if err := b.Start(r); err != nil {
				if err := onDone(Done{ID: r.ID, Err: err}); err != nil {
					return err
				}
			}
		}
		if b.Active() == 0 {
			return nil
		}
		done, err := b.Step(false)
		for _, d := range done {
			if e := onDone(d); e != nil && err == nil {
				err = e
			}
		}
		if err != nil {
			return err
		}
	}
}
