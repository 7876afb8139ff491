package h2o

import (
	"fmt"
	"runtime"

	"github.com/h2o-kv/h2o/internal/par"
)

// HeadTracker is per-head eviction: every (layer, KV head) keeps its own
// Budget tokens, ranked by the attention its query heads gave them.
//
// The KV cells are shared by all heads (a cell has one position for the
// causal mask), but what a cell holds differs per head. Every head keeps the
// same number of tokens, so all heads occupy the same set of cells; after an
// eviction the cells to free are the same for all heads, and a head that keeps
// a token living in a freed cell moves it into a cell whose token that head
// evicted. Evict returns those moves (and, with rolling, the per-head position
// deltas of the keys); the caller applies them to the cache.
type HeadTracker struct {
	cfg           Resolved
	nLayer, nHead int
	heads         []*Tracker // [layer*nHead + head]; Entry.Slot is the token's cell for that head
	cells         []int32    // occupied cells, in the order they were filled
	placed        int        // entries of each head with a cell (the rest were appended, not yet decoded)

	freed []bool // by cell: freed by the eviction in progress
	work  []headWork
	plan  HeadPlan
	dense int     // cells of the dense shift array (0: rolling deltas as moves)
	shift []int32 // the dense shift array of the plan

	noShortcut bool // tests: every eviction through the general loop of evictHead
}

// headWork is one worker's scratch: heads are independent, so large models
// rank and compact them on several goroutines.
type headWork struct {
	shifted bool // a head of this worker wrote a nonzero shift
	free    []int32
	moves   []HeadMove
	err     error
}

// parallelMin is the number of (head, token) entries from which the heads are
// split over goroutines: below it the goroutines cost more than they save.
var parallelMin = 1 << 16

// forHeads runs f for every head, each worker w on a contiguous range, so
// that concatenating the workers' output in order is head order.
func (t *HeadTracker) forHeads(f func(w *headWork, i int)) {
	n := 1
	if len(t.heads)*t.Len() >= parallelMin {
		n = min(runtime.GOMAXPROCS(0), len(t.heads), 16)
	}
	for len(t.work) < n {
		t.work = append(t.work, headWork{})
	}
	par.Ranges(len(t.heads), n, func(w, i int) { f(&t.work[w], i) })
}

// firstErr returns (and clears) the first error of the workers.
func (t *HeadTracker) firstErr() error {
	var err error
	for i := range t.work {
		if err == nil {
			err = t.work[i].err
		}
		t.work[i].err = nil
	}
	return err
}

// HeadMove moves the K/V rows of one (layer, head) from cell Src to cell Dst
// and re-rotates the key by Delta positions (Src == Dst: rotation only).
type HeadMove struct {
	Layer, Head int32
	Src, Dst    int32
	Delta       int32
}

// HeadPlan is what the caller must do to the KV cache after a per-head
// eviction: apply Moves (all reads before writes) and re-rotate keys in
// place by Shift, then give Cells[i] the position Pos[i] without re-rotation
// (Pos < 0: empty the cell). Its slices are reused by the next Evict.
type HeadPlan struct {
	Moves []HeadMove
	// Shift (with DenseShift, when a head rolled): the position delta of the
	// key of every (layer, cell, head), at [(layer*cells + cell)*nHead + head];
	// no shifted row is moved. nil: none.
	Shift   []int32
	Cells   []int32
	Pos     []int32
	Evicted int // tokens each head evicted
}

// Empty reports whether the plan changes nothing.
func (p HeadPlan) Empty() bool { return p.Evicted == 0 }

// NewHeadTracker checks that the policy has granularity head and returns an
// empty tracker for nLayer layers of nHead KV heads.
func NewHeadTracker(cfg Resolved, nLayer, nHead int) (*HeadTracker, error) {
	if cfg.Granularity != PerHead {
		return nil, fmt.Errorf("head tracker: granularity %s, want head", cfg.Granularity)
	}
	if nLayer < 1 || nHead < 1 {
		return nil, fmt.Errorf("head tracker: %d layers x %d KV heads", nLayer, nHead)
	}
	t := &HeadTracker{cfg: cfg, nLayer: nLayer, nHead: nHead, heads: make([]*Tracker, nLayer*nHead)}
	for i := range t.heads {
		t.heads[i] = &Tracker{cfg: cfg}
	}
	return t, nil
}

// Config is the tracker's policy.
func (t *HeadTracker) Config() Resolved { return t.cfg }

// DenseShift makes plans carry the rolling re-rotations of keys that stay in
// their cell as one dense array over nCells cells (Plan.Shift) instead of a
// move each: with rolling most keys of every head shift at every step, and a
// dense array costs less to build and to apply.
func (t *HeadTracker) DenseShift(nCells int) { t.dense = nCells }

// Head is the tracker of one (layer, KV head): its tokens in position order,
// their scores and cells (read-only use).
func (t *HeadTracker) Head(layer, head int) *Tracker { return t.heads[layer*t.nHead+head] }

// Len is the number of tokens each head holds (= occupied cells).
func (t *HeadTracker) Len() int { return t.heads[0].Len() }

// Seen is the number of tokens ever appended.
func (t *HeadTracker) Seen() int64 { return t.heads[0].Seen() }

// Evicted is the number of tokens each head evicted so far.
func (t *HeadTracker) Evicted() int64 { return t.heads[0].Evicted() }

// NextPos is the position the next token takes (the same in every head: its
// index in the cache with rolling, in the stream without).
func (t *HeadTracker) NextPos() int32 { return t.heads[0].NextPos() }

// Cells are the occupied cells (read-only view).
func (t *HeadTracker) Cells() []int32 { return t.cells }

// Append records tokens entering the cache in every head and returns the
// positions to decode them at; Place must follow with their cells.
func (t *HeadTracker) Append(tokens []int32, pos []int32) []int32 {
	for _, h := range t.heads[1:] {
		for _, tok := range tokens {
			h.append(tok)
		}
	}
	return t.heads[0].Append(tokens, pos)
}

// Place records the cells the appended tokens were decoded into, in order.
func (t *HeadTracker) Place(cells []int32) error {
	if t.placed+len(cells) != t.Len() {
		return fmt.Errorf("head tracker: %d cells for %d unplaced tokens", len(cells), t.Len()-t.placed)
	}
	for _, h := range t.heads {
		for i, c := range cells {
			h.entries[t.placed+i].Slot = c
		}
	}
	t.cells = append(t.cells, cells...)
	t.placed += len(cells)
	return nil
}

// AddStep adds one step's attention (one row per layer and KV head, as
// llama.cpp reports it per KV head) to every head's tokens: each head reads
// the cells it holds tokens in.
func (t *HeadTracker) AddStep(att Attention) error {
	if att.NLayer != t.nLayer || att.NHead != t.nHead {
		return fmt.Errorf("head tracker: attention of %d layers x %d heads, want %d x %d KV heads", att.NLayer, att.NHead, t.nLayer, t.nHead)
	}
	if t.placed != t.Len() {
		return fmt.Errorf("head tracker: %d tokens have no cell", t.Len()-t.placed)
	}
	t.forHeads(func(w *headWork, i int) {
		t.heads[i].addRow(att.Data[i*att.NCells : i*att.NCells+att.NKV])
	})
	return nil
}

// Reset forgets every token (the caller clears the cache).
func (t *HeadTracker) Reset() {
	for _, h := range t.heads {
		h.Reset()
	}
	t.cells = t.cells[:0]
	t.placed = 0
}

// Evict shrinks every head to at most limit tokens (limit < 0: the budget),
// each by its own scores, and returns the cache plan. The first limit
// occupied cells stay occupied, the rest are freed; a head that keeps a token
// in a freed cell moves it into a cell of a token it evicted.
func (t *HeadTracker) Evict(limit int) (HeadPlan, error) {
	if limit < 0 {
		limit = t.cfg.Budget
	}
	p := &t.plan
	p.Moves, p.Cells, p.Pos, p.Evicted, p.Shift = p.Moves[:0], p.Cells[:0], p.Pos[:0], 0, nil
	n := t.Len()
	if n <= limit {
		return *p, nil
	}
	if t.placed != n {
		return *p, fmt.Errorf("head tracker: evicting with %d tokens not placed in cells", n-t.placed)
	}
	stay, gone := t.cells[:limit], t.cells[limit:]
	for _, c := range gone {
		for int(c) >= len(t.freed) {
			t.freed = append(t.freed, false)
		}
		t.freed[c] = true
	}
	defer func() {
		for _, c := range gone {
			t.freed[c] = false
		}
	}()
	for i := range t.work {
		t.work[i].moves = t.work[i].moves[:0]
	}
	if t.dense > 0 && t.cfg.Rolling {
		for _, c := range t.cells {
			if int(c) >= t.dense {
				return *p, fmt.Errorf("head tracker: cell %d beyond the %d cells of the shift array", c, t.dense)
			}
		}
		n := t.nLayer * t.dense * t.nHead
		if cap(t.shift) < n {
			t.shift = make([]int32, n)
		}
		t.shift = t.shift[:n]
		clear(t.shift)
	}
	t.forHeads(func(w *headWork, i int) {
		if err := t.evictHead(w, i, limit); err != nil && w.err == nil {
			w.err = err
		}
	})
	if err := t.firstErr(); err != nil {
		return *p, err
	}
	for i := range t.work {
		p.Moves = append(p.Moves, t.work[i].moves...)
		if t.work[i].shifted {
			p.Shift = t.shift
			t.work[i].shifted = false
		}
	}
	// Cell positions drive only the causal mask: every kept cell must be
	// visible to the next token (below its position) and the largest must
	// be just before it, as llama.cpp requires of a sequence.
	base := t.NextPos() - int32(limit)
	for i, c := range stay {
		p.Cells = append(p.Cells, c)
		p.Pos = append(p.Pos, base+int32(i))
	}
	for _, c := range gone {
		p.Cells = append(p.Cells, c)
		p.Pos = append(p.Pos, -1)
	}
	p.Evicted = n - limit
	t.cells = t.cells[:limit]
	t.placed = limit
	return *p, nil
}

// evictHead shrinks head i to limit tokens and appends its moves to w.
func (t *HeadTracker) evictHead(w *headWork, i, limit int) error {
	h := t.heads[i]
	layer, head := int32(i/t.nHead), int32(i%t.nHead)
	if v, ok := h.singleVictim(limit); ok && !t.noShortcut && h.entries[len(h.entries)-1].Slot == t.cells[len(t.cells)-1] {
		t.evictOne(w, h, layer, head, v)
		return nil
	}
	keep := h.selectKeep(limit)
	// cells of this head's evicted tokens that stay occupied: the movers' destinations
	w.free = w.free[:0]
	for j := range h.entries {
		if slot := h.entries[j].Slot; !keep[j] && !t.freed[slot] {
			w.free = append(w.free, slot)
		}
	}
	used, removed := 0, int32(0)
	for j := range h.entries {
		e := &h.entries[j]
		if !keep[j] {
			removed++
			continue
		}
		dst := e.Slot
		if t.freed[e.Slot] {
			if used == len(w.free) {
				return fmt.Errorf("head tracker: layer %d head %d keeps more tokens in freed cells than it evicted elsewhere", layer, head)
			}
			dst = w.free[used]
			used++
		}
		var delta int32
		if t.cfg.Rolling {
			delta = -removed // compact rolls this token down by the evicted before it
		}
		t.record(w, layer, head, e.Slot, dst, delta)
		e.Slot = dst
	}
	h.compact(keep, nil)
	return nil
}

// evictOne is evictHead for a single eviction, of entry v, in O(tokens after
// v): the one cell freed is the last filled, which holds only the newest
// token; that token moves into v's cell, and with rolling every token after v
// rolls down by one. It records what the general loop records, in its order.
func (t *HeadTracker) evictOne(w *headWork, h *Tracker, layer, head int32, v int) {
	last := len(h.entries) - 1
	if v != last {
		var delta int32
		if t.cfg.Rolling {
			delta = -1
			for j := v + 1; j < last; j++ {
				t.record(w, layer, head, h.entries[j].Slot, h.entries[j].Slot, delta)
			}
		}
		dst := h.entries[v].Slot
		t.record(w, layer, head, h.entries[last].Slot, dst, delta)
		h.entries[last].Slot = dst
	}
	h.removeOne(v)
}

// record notes that a head's token goes from cell src to dst with its key
// re-rotated by delta: a dense shift when it stays, else a move.
func (t *HeadTracker) record(w *headWork, layer, head, src, dst, delta int32) {
	switch {
	case dst == src && delta != 0 && t.shift != nil && t.dense > 0:
		// stays in its cell: a dense re-rotation
		t.shift[(int(layer)*t.dense+int(dst))*t.nHead+int(head)] = delta
		w.shifted = true
	case dst != src || delta != 0:
		w.moves = append(w.moves, HeadMove{Layer: layer, Head: head, Src: src, Dst: dst, Delta: delta})
	}
}
