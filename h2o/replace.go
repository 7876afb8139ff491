package h2o

import (
	"fmt"
	"math"
	"slices"
)

// Single replacement: once every head holds its budget, a step of per-head
// eviction with the recipe's rule (h2o, cumulative scores) appends one
// token, adds the step's attention to every token's sum and evicts one token
// per head: the lowest sum among those with stream indices [lo, k+1-recent),
// the oldest on ties (k: the new token's index; below lo the sinks, from
// k+1-recent the recent window, all held in every head). The new token takes
// the evicted one's cell. With rolling, every token after the evicted one in
// that head moves down one position (its rank), and the new token, decoded
// at the budget's position, ends one below it. That step needs nothing but
// each head's sums and indices by cell, so it can run where the cache lives
// (the decode graph); ReplaceState hands the tracker's state over and
// AdoptReplaced takes the result back. TestReplaceEqualsEvict checks the
// step against Evict; the session's tests check the backends against it.

// SingleReplacement reports whether the rule's steps at the budget are
// single replacements (h2o with cumulative scores): the steps the decode
// graph can run.
func (r Resolved) SingleReplacement() bool {
	return r.Policy == H2O && kindOf(r.Score) == kindCum
}

// Replaceable reports whether every following single-token step of t is a
// single replacement, and returns its lo and recent.
func (t *HeadTracker) Replaceable() (lo int32, recent int, ok bool) {
	c := t.cfg
	if !c.SingleReplacement() || t.Seen() >= math.MaxInt32/2 {
		return 0, 0, false // (indices must fit the backend's int32 keys)
	}
	n := t.Len()
	if n != c.Budget || t.placed != n {
		return 0, 0, false
	}
	// as singleVictim sees a cache of n+1 tokens cut to n
	recent = min(c.Recent, n)
	sinks := min(c.SinkTokens, n-recent)
	if recent < 1 || n-recent-sinks <= 0 {
		return 0, 0, false
	}
	next := t.Seen()
	for _, h := range t.heads {
		e := h.entries
		// sinks at indices 0..sinks-1, the recent window just below next
		if sinks > 0 && e[sinks-1].Index != int64(sinks-1) {
			return 0, 0, false
		}
		if recent > 1 && e[n-recent+1].Index != next-int64(recent-1) {
			return 0, 0, false
		}
		if e[n-1].Index != next-1 {
			return 0, 0, false
		}
	}
	return int32(sinks), recent, true
}

// ReplacedState is t's state by cell, in the layout of single replacement:
// for head i (layer*nHead + head) and cell c, at [i*nCells + c], the stream
// index (the key; without rolling also the position) and the score of the
// token the head holds there (-1 and 0 for none). Next is the index of the
// first replacing token. Tokens and ages are kept aside for AdoptReplaced.
type ReplacedState struct {
	NCells int
	Sums   []float64
	Keys   []int32
	Next   int32

	first int32    // the lowest index held at the handoff
	token []tokAge // tokens held at the handoff, at their index - first
}

type tokAge struct {
	token int32
	age   int
}

// ReplaceState exports t's state for single replacement over nCells cells
// (st's slices are reused when large enough).
func (t *HeadTracker) ReplaceState(nCells int, st *ReplacedState) error {
	n := len(t.heads) * nCells
	st.NCells = nCells
	if t.Seen() >= math.MaxInt32 {
		return fmt.Errorf("head tracker: stream index %d beyond the state's int32 keys", t.Seen())
	}
	st.Sums = slices.Grow(st.Sums[:0], n)[:n]
	st.Keys = slices.Grow(st.Keys[:0], n)[:n]
	clear(st.Sums)
	for i := range st.Keys {
		st.Keys[i] = -1
	}
	// indices held lie in [first, next): the sinks or the oldest
	// survivor of any head, up to the newest token
	st.Next = int32(t.Seen())
	st.first = st.Next
	for _, h := range t.heads {
		if len(h.entries) > 0 {
			st.first = min(st.first, int32(h.entries[0].Index))
		}
	}
	m := int(st.Next - st.first)
	st.token = slices.Grow(st.token[:0], m)[:m]
	for i, h := range t.heads {
		row := i * nCells
		for _, e := range h.entries {
			if int(e.Slot) >= nCells || e.Slot < 0 {
				return fmt.Errorf("head tracker: cell %d beyond the %d cells of the state", e.Slot, nCells)
			}
			k := int32(e.Index)
			st.Sums[row+int(e.Slot)] = e.Score
			st.Keys[row+int(e.Slot)] = k
			st.token[k-st.first] = tokAge{e.Token, e.Age}
		}
	}
	return nil
}

// AdoptReplaced takes back the state after len(tokens) single-replacement
// steps that appended tokens (in order) since ReplaceState.
func (t *HeadTracker) AdoptReplaced(st *ReplacedState, tokens []int32) error {
	steps := len(tokens)
	n := t.Len()
	for i, h := range t.heads {
		row := i * st.NCells
		e := h.entries[:0]
		for c := 0; c < st.NCells; c++ {
			k := st.Keys[row+c]
			if k < 0 {
				continue
			}
			var ta tokAge
			switch {
			case k >= st.Next && int(k-st.Next) < steps:
				ta = tokAge{tokens[k-st.Next], steps - int(k-st.Next)}
			case k >= st.first && k < st.Next:
				ta = st.token[k-st.first]
				ta.age += steps
			default:
				return fmt.Errorf("head tracker: layer %d head %d holds stream index %d, which it never saw", i/t.nHead, i%t.nHead, k)
			}
			s := st.Sums[row+c]
			e = append(e, Entry{Index: int64(k), Score: s, sum: s, Age: ta.age, Token: ta.token, Pos: k, Slot: int32(c)})
		}
		if len(e) != n {
			return fmt.Errorf("head tracker: layer %d head %d holds %d tokens after replacement, want %d", i/t.nHead, i%t.nHead, len(e), n)
		}
		slices.SortFunc(e, func(a, b Entry) int { return int(a.Index - b.Index) })
		if t.cfg.Rolling {
			for j := range e {
				e[j].Pos = int32(j) // rolled: each token at its rank
			}
		}
		h.entries = e
		h.next += int64(steps)
		h.evicted += int64(steps)
	}
	return nil
}
