package h2o

import (
	"fmt"
	"strconv"
	"strings"
)

// PromptRule says how a prompt read whole (full prefill) is cut to the
// budget before decoding goes on under the policy.
type PromptRule struct {
	// Kind is "" (the policy's own eviction) or "snapkv".
	Kind string
	// Window is SnapKV's observation window W: the last W prompt tokens
	// vote for the earlier ones by the attention their queries give them,
	// and are kept themselves.
	Window int
}

// SnapKVKernel is the width of SnapKV's pooling of the votes (its default):
// a token's rank is the mean vote of the tokens around it, so that the
// neighbours of a chosen token come with it.
const SnapKVKernel = 5

// ParsePromptRule accepts "" or none (the policy's eviction) and snapkv:W.
func ParsePromptRule(s string) (PromptRule, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || s == "none" {
		return PromptRule{}, nil
	}
	if w, ok := strings.CutPrefix(s, "snapkv:"); ok {
		v, err := strconv.Atoi(w)
		if err != nil || v < 1 {
			return PromptRule{}, fmt.Errorf("prompt rule %q: snapkv needs an observation window W >= 1, e.g. snapkv:32", s)
		}
		return PromptRule{Kind: "snapkv", Window: v}, nil
	}
	return PromptRule{}, fmt.Errorf("prompt rule %q: want none or snapkv:W", s)
}

func (p PromptRule) String() string {
	if p.Kind == "" {
		return "none"
	}
	return fmt.Sprintf("%s:%d", p.Kind, p.Window)
}

// check refuses a rule without eviction, an unknown kind, and a window that
// leaves no room in the budget.
func (p PromptRule) check(evicts bool, budget int) error {
	switch {
	case p.Kind == "":
		return nil
	case p.Kind != "snapkv":
		return fmt.Errorf("prompt rule %q: want none or snapkv:W", p.Kind)
	case !evicts:
		return nil // Resolve names it among the settings full has no use for
	case p.Window < 1 || p.Window >= budget:
		return fmt.Errorf("prompt rule snapkv:%d: the observation window must be at least 1 and below the budget of %d", p.Window, budget)
	}
	return nil
}

// SnapKVRanks pools the votes of the observation window (vote[i]: the
// attention token i received from the last window queries) over
// SnapKVKernel neighbours, as SnapKV's average pooling with zero padding
// does, into the ranks of Tracker.Cut. out is reused when large enough.
func SnapKVRanks(vote []float64, out []float64) []float64 {
	n := len(vote)
	if cap(out) < n {
		out = make([]float64, n)
	}
	out = out[:n]
	half := SnapKVKernel / 2
	for i := range out {
		s := 0.0
		for j := max(i-half, 0); j <= min(i+half, n-1); j++ {
			s += vote[j]
		}
		out[i] = s / SnapKVKernel
	}
	return out
}

// Cut shrinks the cache to at most limit tokens keeping the sinks, the last
// recent tokens and the best by rank (rank[i] for entry i; ties to the more
// recent), whatever the policy ranks by; the entries keep their scores. It
// is the prompt rules' eviction (a window or sink policy included).
func (t *Tracker) Cut(limit, recent int, rank []float64) (Plan, error) {
	n := len(t.entries)
	if len(rank) != n {
		return Plan{}, fmt.Errorf("h2o: %d ranks for %d cached tokens", len(rank), n)
	}
	if !t.cfg.Evicts() || n <= limit {
		return Plan{}, nil
	}
	saved := append(t.saved[:0], rank...)
	for i := range t.entries {
		t.entries[i].Score, saved[i] = saved[i], t.entries[i].Score
	}
	keep := t.keepTop(limit, recent, true)
	for i := range t.entries {
		t.entries[i].Score = saved[i]
	}
	t.saved = saved
	return t.apply(keep), nil
}
