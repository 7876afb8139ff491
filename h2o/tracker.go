package h2o

import (
	"fmt"
	"slices"
	"sort"
)

// Entry is one token held in the KV cache.
//
// The fields are ordered largest first, which packs the struct into 48 bytes
// instead of 56: per-head eviction keeps one per token and head and walks
// them all at every step.
type Entry struct {
	Index  int64   // index in the whole stream (0-based, never reused)
	Score  float64 // accumulated attention, per the score rule
	sum    float64 // running sum (for the mean rule)
	Age    int     // steps the token has been in the cache, counting the step it entered
	Token  int32   // vocabulary id
	Pos    int32   // current position in the KV cache
	Slot   int32   // KV cell holding the token (per-head eviction only; else unused)
	hasKey bool    // SetKeys gave the token's keys, or SetKeyStat its statistic (knorm, keydiff)
}

// Tracker mirrors the KV cache of one sequence: its tokens in position order,
// their scores, and the next position. It decides evictions; the caller
// applies the returned Plan to the real cache.
type Tracker struct {
	cfg      Resolved
	entries  []Entry
	next     int64 // stream index of the next token
	evicted  int64
	scratch  []int
	keepMask []bool
	saved    []float64 // scores set aside by Cut
	keys     keyShape  // of SetKeys (keydiff)
	anchor   []float64 // keydiff's mean key per layer and KV head
	// unit[i] is entry i's normalised keys (keydiff), per layer and KV head;
	// kept beside entries, and compacted with them, so that Entry stays a value
	unit [][]float32
	// keyStats: the rule's statistics come from SetKeyStat, computed where
	// the keys live, not from keys given to SetKeys
	keyStats bool
}

// NewTracker returns an empty tracker of the policy.
func NewTracker(p Resolved) *Tracker { return &Tracker{cfg: p} }

// Config is the tracker's policy.
func (t *Tracker) Config() Resolved { return t.cfg }

// Len is the number of tokens in the cache.
func (t *Tracker) Len() int { return len(t.entries) }

// Entries are the cached tokens in position order (read-only view).
func (t *Tracker) Entries() []Entry { return t.entries }

// Seen is the number of tokens ever appended.
func (t *Tracker) Seen() int64 { return t.next }

// Evicted is the number of tokens evicted so far.
func (t *Tracker) Evicted() int64 { return t.evicted }

// NextPos is the position the next appended token takes: its index in the
// cache with rolling, its index in the stream without.
func (t *Tracker) NextPos() int32 {
	if t.cfg.Rolling {
		return int32(len(t.entries))
	}
	return int32(t.next)
}

// MaxPos is the largest position in use (-1 when empty).
func (t *Tracker) MaxPos() int32 {
	if len(t.entries) == 0 {
		return -1
	}
	return t.entries[len(t.entries)-1].Pos
}

// Append records tokens entering the cache and returns the positions to
// decode them at (pos may be nil; else it must have room for len(tokens)).
func (t *Tracker) Append(tokens []int32, pos []int32) []int32 {
	pos = pos[:0]
	for _, tok := range tokens {
		pos = append(pos, t.NextPos())
		t.append(tok)
	}
	return pos
}

func (t *Tracker) append(tok int32) {
	t.entries = append(t.entries, Entry{Token: tok, Index: t.next, Pos: t.NextPos()})
	if t.cfg.Policy == KeyDiff {
		// an evicted token's buffer, when there is one (SetKeys overwrites it)
		if n := len(t.unit); n < cap(t.unit) {
			t.unit = t.unit[:n+1]
		} else {
			t.unit = append(t.unit, nil)
		}
	}
	t.next++
}

// IndexOfPosNear is IndexOfPos starting at hint, where p was found before:
// evictions since then move an entry down by the number evicted before it,
// so a short walk down finds it without a search.
func (t *Tracker) IndexOfPosNear(p int32, hint int) int {
	if t.cfg.Rolling || hint < 0 {
		return t.IndexOfPos(p)
	}
	i := min(hint, len(t.entries)-1)
	for steps := 0; i >= 0 && steps < 8 && t.entries[i].Pos > p; steps++ {
		i--
	}
	if i >= 0 && t.entries[i].Pos == p {
		return i
	}
	return t.IndexOfPos(p)
}

// IndexOfPos returns the entry holding position p, or -1.
func (t *Tracker) IndexOfPos(p int32) int {
	if t.cfg.Rolling {
		// positions are the indices 0..n-1
		if p >= 0 && int(p) < len(t.entries) && t.entries[p].Pos == p {
			return int(p)
		}
		return -1
	}
	i := sort.Search(len(t.entries), func(i int) bool { return t.entries[i].Pos >= p })
	if i < len(t.entries) && t.entries[i].Pos == p {
		return i
	}
	return -1
}

// AddStep adds one step's attention: step[i] is what entry i received in
// this decode (tokens that just entered included). Every entry ages by one.
func (t *Tracker) AddStep(step []float64) error {
	if len(step) != len(t.entries) {
		return fmt.Errorf("h2o: %d step scores for %d cached tokens", len(step), len(t.entries))
	}
	k, gamma := kindOf(t.cfg.Score), t.cfg.Score.Gamma
	for i := range t.entries {
		t.entries[i].add(k, gamma, step[i])
	}
	return nil
}

// addRow is AddStep with each entry's score read from the row of its cell
// (per-head eviction); cells beyond the row received nothing.
func (t *Tracker) addRow(row []float32) {
	k, gamma := kindOf(t.cfg.Score), t.cfg.Score.Gamma
	for i := range t.entries {
		e := &t.entries[i]
		v := 0.0
		if int(e.Slot) < len(row) {
			v = float64(row[e.Slot])
		}
		e.add(k, gamma, v)
	}
}

// scoreKind is ScoreRule.Kind as a number: the rule is read once per step,
// not once per cached token (per head, that is every token of every head).
type scoreKind uint8

const (
	kindCum scoreKind = iota
	kindMean
	kindEMA
	kindLast
)

func kindOf(r ScoreRule) scoreKind {
	switch r.Kind {
	case "mean":
		return kindMean
	case "ema":
		return kindEMA
	case "last":
		return kindLast
	}
	return kindCum
}

func (e *Entry) add(k scoreKind, gamma, v float64) {
	e.Age++
	e.sum += v
	switch k {
	case kindMean:
		e.Score = e.sum / float64(e.Age)
	case kindEMA:
		e.Score = gamma*e.Score + v
	case kindLast:
		e.Score = v
	default: // cum
		e.Score = e.sum
	}
}

// Reset forgets every token (the caller clears the cache).
func (t *Tracker) Reset() {
	t.entries = t.entries[:0]
	t.unit = t.unit[:0]
	t.keys, t.keyStats = keyShape{}, false
	t.next = 0
	t.evicted = 0
}

// Plan is what the caller must do to the KV cache after an eviction:
// remove the positions in Remove (ranges [P0, P1)), then apply Shifts in order.
type Plan struct {
	Remove  []Range
	Shifts  []Shift
	Evicted []Entry // the tokens that left, in position order
}

// Range is a half-open position range [P0, P1).
type Range struct{ P0, P1 int32 }

// Shift adds Delta to the positions in [P0, P1) (P1 = -1: to the end).
type Shift struct {
	P0, P1 int32
	Delta  int32
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool { return len(p.Remove) == 0 }

// Evict shrinks the cache to at most limit tokens (limit < 0: the budget) by
// the policy, updates positions when rolling, and returns the plan to apply.
// Full never evicts.
func (t *Tracker) Evict(limit int) Plan {
	if limit < 0 {
		limit = t.cfg.Budget
	}
	n := len(t.entries)
	if !t.cfg.Evicts() || n <= limit {
		return Plan{}
	}
	keep := t.selectKeep(limit)
	return t.apply(keep)
}

// selectKeep marks the entries to keep: the policy's protected tokens (sinks,
// recent window) and, for a ranking policy, the best-scoring others up to limit.
func (t *Tracker) selectKeep(limit int) []bool {
	if t.cfg.Policy == KeyDiff && !t.keyStats {
		t.keyDiffScores()
	}
	return t.keepTop(limit, t.cfg.Recent, t.cfg.Policy.ranks())
}

// keepTop marks the sinks, the last recent entries and, when ranked, the
// best-scoring others up to limit.
func (t *Tracker) keepTop(limit, recent int, ranked bool) []bool {
	n := len(t.entries)
	t.keepMask = slices.Grow(t.keepMask[:0], n)[:n]
	keep := t.keepMask
	clear(keep)
	recent = min(recent, limit)
	sinks := min(t.cfg.SinkTokens, limit-recent)
	for i := n - recent; i < n; i++ {
		keep[i] = true
	}
	for i := 0; i < sinks; i++ {
		keep[i] = true
	}
	slots := limit - recent - sinks
	if !ranked || slots <= 0 {
		return keep
	}
	if n-limit == 1 {
		// One eviction (every decode step): the worst candidate, the oldest
		// on ties, exactly what the sort below leaves out, in O(n).
		for i := sinks; i < n-recent; i++ {
			keep[i] = true
		}
		keep[t.worstCandidate(sinks, n-recent)] = false
		return keep
	}
	// Candidates: everything between the sinks and the recent window, best
	// score first; ties go to the more recent token (deterministic).
	cand := t.scratch[:0]
	for i := sinks; i < n-recent; i++ {
		cand = append(cand, i)
	}
	slices.SortFunc(cand, func(a, b int) int {
		sa, sb := t.entries[a].Score, t.entries[b].Score
		switch {
		case sa > sb:
			return -1
		case sa < sb:
			return 1
		}
		return b - a
	})
	for _, i := range cand[:min(slots, len(cand))] {
		keep[i] = true
	}
	t.scratch = cand
	return keep
}

// worstCandidate is the entry in [lo, hi) with the lowest score, the oldest
// on ties: the one a single eviction removes.
func (t *Tracker) worstCandidate(lo, hi int) int {
	worst := lo
	for i := lo + 1; i < hi; i++ {
		if t.entries[i].Score < t.entries[worst].Score {
			worst = i
		}
	}
	return worst
}

// singleVictim is selectKeep(limit) for a cache one token over limit, as
// the index of the one entry it leaves out. ok is false where selectKeep
// would do more than rank the candidates and drop the worst.
func (t *Tracker) singleVictim(limit int) (victim int, ok bool) {
	n := len(t.entries)
	if n-limit != 1 || !t.cfg.Policy.ranks() || t.cfg.Policy == KeyDiff {
		return -1, false
	}
	recent := min(t.cfg.Recent, limit)
	sinks := min(t.cfg.SinkTokens, limit-recent)
	if limit-recent-sinks <= 0 {
		return -1, false
	}
	return t.worstCandidate(sinks, n-recent), true
}

// removeOne is compact(keep, nil) for a mask that leaves out only entry v.
func (t *Tracker) removeOne(v int) {
	if t.cfg.Rolling {
		for i := v + 1; i < len(t.entries); i++ {
			t.entries[i].Pos--
		}
	}
	copy(t.entries[v:], t.entries[v+1:])
	t.entries = t.entries[:len(t.entries)-1]
	if len(t.unit) == len(t.entries)+1 {
		// the evicted key's buffer moves to the end, for the next token
		u := t.unit[v]
		copy(t.unit[v:], t.unit[v+1:])
		t.unit[len(t.unit)-1] = u
		t.unit = t.unit[:len(t.unit)-1]
	}
	t.evicted++
}

// apply drops the entries not kept and builds the cache plan.
func (t *Tracker) apply(keep []bool) Plan {
	var plan Plan
	t.compact(keep, &plan)
	return plan
}

// compact drops the entries not kept, rolls positions, and records the cache
// plan in plan when it is not nil (per-head eviction needs none).
func (t *Tracker) compact(keep []bool, plan *Plan) {
	removedBefore := int32(0)
	// the entries before the first evicted one stay as they are
	first := 0
	for first < len(t.entries) && keep[first] {
		first++
	}
	out := t.entries[:first]
	units := len(t.unit) == len(t.entries)
	for i := first; i < len(t.entries); i++ {
		// e is updated where it is and then copied down once: writes go only
		// to indices below i, which were read already
		e := &t.entries[i]
		if units {
			// the evicted key's buffer moves to the end, for the next token
			t.unit[len(out)], t.unit[i] = t.unit[i], t.unit[len(out)]
		}
		if !keep[i] {
			if plan != nil {
				plan.Evicted = append(plan.Evicted, *e)
				if r := len(plan.Remove); r > 0 && plan.Remove[r-1].P1 == e.Pos {
					plan.Remove[r-1].P1++
				} else {
					plan.Remove = append(plan.Remove, Range{e.Pos, e.Pos + 1})
				}
			}
			removedBefore++
			continue
		}
		if t.cfg.Rolling && removedBefore > 0 {
			// a kept run after removals moves down by the number removed before it
			if plan != nil {
				if s := len(plan.Shifts); s > 0 && plan.Shifts[s-1].Delta == -removedBefore && plan.Shifts[s-1].P1 == e.Pos {
					plan.Shifts[s-1].P1++
				} else {
					plan.Shifts = append(plan.Shifts, Shift{P0: e.Pos, P1: e.Pos + 1, Delta: -removedBefore})
				}
			}
			e.Pos -= removedBefore
		}
		if n := len(out); n != i {
			t.entries[n] = *e
		}
		out = t.entries[:len(out)+1]
	}
	t.entries = out
	if units {
		t.unit = t.unit[:len(out)]
	}
	t.evicted += int64(removedBefore)
}
