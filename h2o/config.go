// Package h2o is the Heavy-Hitter Oracle KV-cache policy, in pure Go: it
// accumulates the attention each cached token receives, decides which tokens
// to evict under a budget, and computes the position shifts of position
// rolling. It knows nothing of llama.cpp: the session feeds it attention and
// applies its plans to the KV cache.
package h2o

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/h2o-kv/h2o/internal/enum"
)

// Policy names the eviction policy.
type Policy string

const (
	Full   Policy = "full"   // no eviction
	H2O    Policy = "h2o"    // heavy hitters + recent window
	Window Policy = "window" // recent window only
	Sink   Policy = "sink"   // StreamingLLM: first tokens + recent window
	// TOVA (Oren et al. 2024) is a name for h2o ranking by the current
	// step's attention only, each (layer, head) row normalised and averaged:
	// score rule last, aggregation layer-mean, a recent window of 1.
	TOVA Policy = "tova"
	// Knorm (Devoto et al. 2024) keeps the tokens of smallest key L2 norm
	// (summed over layers and KV heads) besides the recent window (default
	// half the budget): no scores.
	Knorm Policy = "knorm"
	// KeyDiff (Park et al. 2025) keeps the tokens whose keys are least
	// similar (cosine, per layer and KV head, summed) to the mean of the
	// cache's normalised keys besides the recent window (default half the
	// budget): no scores.
	KeyDiff Policy = "keydiff"
)

// policies are the names ParsePolicy accepts.
var policies = []Policy{Full, H2O, Window, Sink, TOVA, Knorm, KeyDiff}

// ParsePolicy accepts full, h2o, window, sink, tova, knorm and keydiff.
func ParsePolicy(s string) (Policy, error) {
	return enum.Parse("policy", s, "", policies...)
}

// ranks reports whether the policy keeps the best-ranked tokens besides its
// protected ones (sinks, recent window), in a heavy part of the budget.
func (p Policy) ranks() bool { return p == H2O || p == Knorm || p == KeyDiff }

// keyed reports whether the policy ranks tokens by their cached keys.
func (p Policy) keyed() bool { return p == Knorm || p == KeyDiff }

// Aggregate says how a token's per-layer, per-head attention becomes one
// score (llama.cpp cells hold a token for all layers and heads, so eviction
// is per token).
type Aggregate string

const (
	// AggSum sums attention over layers and heads (default).
	AggSum Aggregate = "sum"
	// AggLayerMean normalises each (layer, head) row of a step to sum 1 and
	// averages over heads and layers, so no layer dominates by its scale.
	AggLayerMean Aggregate = "layer-mean"
	// AggMax takes, per token, the largest normalised attention of any (layer, head).
	AggMax Aggregate = "max"
)

// ParseAggregate accepts sum, layer-mean and max ("" = sum).
func ParseAggregate(s string) (Aggregate, error) {
	return enum.Parse("score aggregation", s, AggSum, AggSum, AggLayerMean, AggMax)
}

// Granularity says what one kept set serves.
type Granularity string

const (
	// PerToken keeps one set of tokens for all layers and heads (a token's
	// score is aggregated over layers and query heads).
	PerToken Granularity = "token"
	// PerHead keeps a set per (layer, KV head), ranked by the attention of the
	// query heads of that KV head's group: the recipe's eviction.
	PerHead Granularity = "head"
)

// ParseGranularity accepts token and head ("" = token).
func ParseGranularity(s string) (Granularity, error) {
	return enum.Parse("granularity", s, PerToken, PerToken, PerHead)
}

// ScoreRule says how a token's score evolves from step to step.
type ScoreRule struct {
	Kind  string  // "cum" (recipe), "mean", "ema", "last"
	Gamma float64 // decay of "ema"
}

// ParseScoreRule accepts cum, mean, last and ema:G with 0 < G < 1 ("" = cum).
func ParseScoreRule(s string) (ScoreRule, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if g, ok := strings.CutPrefix(s, "ema:"); ok {
		v, err := strconv.ParseFloat(g, 64)
		if err != nil || v <= 0 || v >= 1 {
			return ScoreRule{}, fmt.Errorf("score rule %q: ema needs a decay 0 < G < 1, e.g. ema:0.9", s)
		}
		return ScoreRule{Kind: "ema", Gamma: v}, nil
	}
	k, err := enum.Parse("score rule", s, "cum", "cum", "mean", "last")
	if err != nil {
		return ScoreRule{}, fmt.Errorf("score rule %q: want cum, mean, last or ema:G", s)
	}
	return ScoreRule{Kind: k}, nil
}

// check refuses an unknown kind and an ema decay outside (0, 1).
func (r ScoreRule) check() error {
	switch r.Kind {
	case "", "cum", "mean", "last":
		return nil
	case "ema":
		if r.Gamma > 0 && r.Gamma < 1 {
			return nil
		}
		return fmt.Errorf("score rule ema:%g: ema needs a decay 0 < G < 1, e.g. ema:0.9", r.Gamma)
	}
	return fmt.Errorf("score rule %q: want cum, mean, last or ema:G", r.Kind)
}

func (r ScoreRule) String() string {
	if r.Kind == "ema" {
		return "ema:" + strconv.FormatFloat(r.Gamma, 'g', -1, 64)
	}
	if r.Kind == "" {
		return "cum"
	}
	return r.Kind
}

// HalfBudget as Config.HeavyHitters asks for half the budget as heavy
// hitters: the recipe's num_heavy_hitter_tokens -1.
const HalfBudget = -1

// Config is an eviction policy as asked for: what the user or caller gave,
// never rewritten. Resolve checks it and derives the policy that runs.
// The recipe's flags map as: Budget = num_window_length, HeavyHitters =
// num_heavy_hitter_tokens, Rolling = enable_position_rolling.
//
// An h2o budget is split between heavy hitters H and the recent window R
// (H + R = B). Give at most one heavy size (HeavyHitters or HeavyRatio) and
// at most one recent size (Recent or RecentShare); the other part is the rest
// of the budget, and when both are given they must fill it. Zero means not
// given; with neither, R is the whole budget.
type Config struct {
	Policy       Policy  // "" = h2o
	Budget       int     // B: most tokens kept in the cache (full: only sizes the context)
	HeavyHitters int     // H in tokens (h2o); HalfBudget = B/2
	HeavyRatio   float64 // H = round(ratio*B), 0 < ratio < 1 (h2o)
	Recent       int     // R in tokens; window and sink without it: B - sink tokens
	RecentShare  float64 // R = max(1, round(share*B)), 0 < share < 1
	SinkTokens   int     // first tokens never evicted (sink: 0 = 4; h2o: kept-first, within H)
	Rolling      bool    // kept tokens take their index in the cache as position
	Aggregate    Aggregate
	Score        ScoreRule
	Granularity  Granularity // token (default) or head
	Prompt       PromptRule  // how a prompt read with full prefill is cut to B (default: by the policy)
}

// Resolved is a checked policy with every size decided: what the trackers
// and the session run. Make one with Config.Resolve.
type Resolved struct {
	Policy       Policy
	Budget       int // B (full: only sizes the context)
	HeavyHitters int // H (h2o; else 0)
	Recent       int // R (evicting policies)
	SinkTokens   int
	Rolling      bool
	Aggregate    Aggregate
	Score        ScoreRule
	Granularity  Granularity
	Prompt       PromptRule
	// Alias is the name the policy was asked for by when it is a name for
	// h2o settings (tova); "" otherwise.
	Alias Policy
}

// Resolve checks the request and derives the policy: defaults for what is
// not given, the h2o split, the sinks. Contradicting or meaningless
// combinations (a size the policy has no use for, two sizes that do not add
// up) are refused, never adjusted.
func (c Config) Resolve() (Resolved, error) {
	r := Resolved{Budget: c.Budget, Rolling: c.Rolling, Score: c.Score, Prompt: c.Prompt}
	var err error
	if r.Policy, err = enum.Parse("policy", string(c.Policy), H2O, policies...); err != nil {
		return Resolved{}, err
	}
	if r.Policy == TOVA {
		if c, err = c.tova(); err != nil {
			return Resolved{}, err
		}
		r.Policy, r.Alias, r.Score = H2O, TOVA, c.Score
	}
	if err := c.Prompt.check(c.Policy != Full, c.Budget); err != nil {
		return Resolved{}, err
	}
	if r.Aggregate, err = ParseAggregate(string(c.Aggregate)); err != nil {
		return Resolved{}, err
	}
	if r.Granularity, err = ParseGranularity(string(c.Granularity)); err != nil {
		return Resolved{}, err
	}
	if err := c.Score.check(); err != nil {
		return Resolved{}, err
	}
	if r.Score.Kind == "" {
		r.Score.Kind = "cum"
	}
	if r.Granularity == PerHead {
		switch {
		case r.Policy != H2O:
			// full never evicts; window and sink rank no attention, so every
			// head would keep the same tokens as per-token eviction does; the
			// key rules rank tokens, not heads.
			return Resolved{}, fmt.Errorf("granularity head needs the h2o policy (%s keeps the same tokens in every head; use granularity token)", r.Policy)
		case r.Aggregate != AggSum:
			return Resolved{}, fmt.Errorf("granularity head ranks each KV head by its own attention; score aggregation %s applies to granularity token only", r.Aggregate)
		}
	}
	if r.Policy == Full {
		if what := c.evictionAsked(); what != "" {
			return Resolved{}, fmt.Errorf("full keeps every token: %s needs an evicting policy (h2o, window or sink)", what)
		}
		return r, nil
	}
	if c.Budget < 1 {
		return Resolved{}, fmt.Errorf("%s: the cache budget must be at least 1 token (got %d)", r.Policy, c.Budget)
	}
	if c.SinkTokens < 0 {
		return Resolved{}, fmt.Errorf("%s: negative number of sink tokens", r.Policy)
	}
	heavy, heavyGiven, err := c.heavy()
	if err != nil {
		return Resolved{}, err
	}
	recent, recentGiven, err := c.recent()
	if err != nil {
		return Resolved{}, err
	}
	r.SinkTokens = c.SinkTokens
	switch r.Policy {
	case H2O, Knorm, KeyDiff:
		if r.Policy != H2O && !heavyGiven && !recentGiven {
			// The papers keep no recent window; ranking new tokens by their
			// keys alone evicts them as they come (docs/QUALITY.md): half
			// the budget is the recent window, as in the recipe's h2o.
			recent, recentGiven = max(1, c.Budget/2), true
		}
		switch {
		case heavyGiven && recentGiven && heavy+recent != c.Budget:
			return Resolved{}, fmt.Errorf("%s: %d heavy hitters + %d recent tokens do not fill the budget of %d (give one of them, or both adding up to the budget)", r.Policy, heavy, recent, c.Budget)
		case heavyGiven:
			recent = c.Budget - heavy
		case recentGiven:
			heavy = c.Budget - recent
		default:
			recent = c.Budget
		}
		if heavy >= c.Budget {
			return Resolved{}, fmt.Errorf("%s: %d heavy hitters leave no recent window in a budget of %d (need heavy hitters < budget)", r.Policy, heavy, c.Budget)
		}
		if heavy < 0 {
			return Resolved{}, fmt.Errorf("%s: a recent window of %d exceeds the budget of %d", r.Policy, recent, c.Budget)
		}
		if r.SinkTokens > heavy {
			return Resolved{}, fmt.Errorf("%s: %d kept-first tokens exceed the %d heavy-hitter slots", r.Policy, r.SinkTokens, heavy)
		}
		r.HeavyHitters = heavy
	case Sink, Window:
		if heavyGiven {
			return Resolved{}, fmt.Errorf("%s keeps no heavy hitters (that is h2o): leave out the heavy-hitter size", r.Policy)
		}
		if r.Policy == Sink && r.SinkTokens == 0 {
			r.SinkTokens = 4
		}
		if !recentGiven {
			recent = c.Budget - r.SinkTokens
		}
		if recent+r.SinkTokens > c.Budget {
			return Resolved{}, fmt.Errorf("%s: %d sink + %d recent tokens exceed the budget of %d", r.Policy, r.SinkTokens, recent, c.Budget)
		}
	}
	if recent < 1 {
		return Resolved{}, fmt.Errorf("%s: the recent window must hold at least 1 token (budget %d)", r.Policy, c.Budget)
	}
	r.Recent = recent
	return r, nil
}

// evictionAsked names the first eviction setting given, "" if none.
func (c Config) evictionAsked() string {
	switch {
	case c.HeavyHitters != 0 || c.HeavyRatio != 0:
		return "a heavy-hitter size"
	case c.Recent != 0 || c.RecentShare != 0:
		return "a recent window"
	case c.SinkTokens != 0:
		return "sink tokens"
	case c.Rolling:
		return "position rolling"
	case c.Prompt.Kind != "":
		return "a prompt rule"
	}
	return ""
}

// heavy is the heavy-hitter size asked for, if any.
func (c Config) heavy() (int, bool, error) {
	switch {
	case c.HeavyHitters != 0 && c.HeavyRatio != 0:
		return 0, false, fmt.Errorf("heavy hitters given twice: %d tokens and a ratio of %g (give one)", c.HeavyHitters, c.HeavyRatio)
	case c.HeavyHitters == HalfBudget:
		return c.Budget / 2, true, nil
	case c.HeavyHitters < 0:
		return 0, false, fmt.Errorf("heavy hitters %d: want a number of tokens, or %d for half the budget", c.HeavyHitters, HalfBudget)
	case c.HeavyHitters > 0:
		return c.HeavyHitters, true, nil
	case c.HeavyRatio < 0 || c.HeavyRatio >= 1:
		return 0, false, fmt.Errorf("heavy-hitter ratio %g: want 0 <= ratio < 1", c.HeavyRatio)
	case c.HeavyRatio > 0:
		return int(math.Round(c.HeavyRatio * float64(c.Budget))), true, nil
	}
	return 0, false, nil
}

// recent is the recent-window size asked for, if any.
func (c Config) recent() (int, bool, error) {
	switch {
	case c.Recent != 0 && c.RecentShare != 0:
		return 0, false, fmt.Errorf("recent window given twice: %d tokens and a share of %g (give one)", c.Recent, c.RecentShare)
	case c.Recent < 0:
		return 0, false, fmt.Errorf("recent window %d: want a positive number of tokens", c.Recent)
	case c.Recent > 0:
		return c.Recent, true, nil
	case c.RecentShare < 0 || c.RecentShare >= 1:
		return 0, false, fmt.Errorf("recent share %g: want 0 < share < 1", c.RecentShare)
	case c.RecentShare > 0:
		return max(1, int(math.Round(c.RecentShare*float64(c.Budget)))), true, nil
	}
	return 0, false, nil
}

// Evicts reports whether the requested policy evicts (h2o when not named):
// what sizes a context before the request is resolved.
func (c Config) Evicts() bool { return c.Policy != Full }

// String names the request by what it gives, e.g. "h2o B=64 R=0.75B".
func (c Config) String() string {
	p := c.Policy
	if p == "" {
		p = H2O
	}
	s := string(p)
	if c.Evicts() {
		s += fmt.Sprintf(" B=%d", c.Budget)
	}
	switch {
	case c.HeavyHitters == HalfBudget:
		s += " H=B/2"
	case c.HeavyHitters != 0:
		s += fmt.Sprintf(" H=%d", c.HeavyHitters)
	case c.HeavyRatio != 0:
		s += fmt.Sprintf(" H=%gB", c.HeavyRatio)
	}
	switch {
	case c.Recent != 0:
		s += fmt.Sprintf(" R=%d", c.Recent)
	case c.RecentShare != 0:
		s += fmt.Sprintf(" R=%gB", c.RecentShare)
	}
	if c.SinkTokens != 0 {
		s += fmt.Sprintf(" S=%d", c.SinkTokens)
	}
	if c.Granularity == PerHead {
		s += " per head"
	}
	if c.Prompt.Kind != "" {
		s += " prompt " + c.Prompt.String()
	}
	return s
}

// Evicts reports whether the policy ever evicts.
func (r Resolved) Evicts() bool { return r.Policy != Full }

// NeedsScores reports whether the policy ranks tokens by attention.
func (r Resolved) NeedsScores() bool { return r.Policy == H2O }

// NeedsKeys reports whether the policy ranks tokens by their cached keys
// (knorm, keydiff): the caller gives each token's keys (Tracker.SetKeys).
func (r Resolved) NeedsKeys() bool { return r.Policy.keyed() }

// Name is the policy's name as asked for (tova rather than h2o).
func (r Resolved) Name() Policy {
	if r.Alias != "" {
		return r.Alias
	}
	return r.Policy
}

// Request is r as a request that resolves to r again.
func (r Resolved) Request() Config {
	c := Config{Policy: r.Name(), Budget: r.Budget, Rolling: r.Rolling, Aggregate: r.Aggregate, Score: r.Score, Granularity: r.Granularity, Prompt: r.Prompt}
	if r.Evicts() {
		c.Recent, c.SinkTokens = r.Recent, r.SinkTokens
	}
	return c
}

func (r Resolved) String() string {
	var s string
	switch r.Policy {
	case Full:
		return "full"
	case H2O, Knorm, KeyDiff:
		s = fmt.Sprintf("%s B=%d H=%d R=%d", r.Name(), r.Budget, r.HeavyHitters, r.Recent)
		if r.Granularity == PerHead {
			s += " per head"
		}
	case Sink:
		s = fmt.Sprintf("sink B=%d S=%d R=%d", r.Budget, r.SinkTokens, r.Recent)
	default:
		s = fmt.Sprintf("%s B=%d", r.Policy, r.Budget)
	}
	if r.Prompt.Kind != "" {
		s += " prompt " + r.Prompt.String()
	}
	return s
}

// tova is the request with tova's h2o settings filled in: score rule last,
// aggregation layer-mean and, without a split, a recent window of 1. A
// contradicting setting is refused.
func (c Config) tova() (Config, error) {
	switch {
	case c.Score.Kind != "" && c.Score.Kind != "last":
		return c, fmt.Errorf("tova ranks by the current step's attention (score rule last): score rule %s is h2o's", c.Score)
	case c.Aggregate != "" && c.Aggregate != AggLayerMean:
		return c, fmt.Errorf("tova averages the normalised attention of heads (aggregation layer-mean): aggregation %s is h2o's", c.Aggregate)
	case c.Granularity == PerHead:
		return c, fmt.Errorf("tova ranks tokens (granularity token); granularity head is h2o's")
	}
	c.Score, c.Aggregate = ScoreRule{Kind: "last"}, AggLayerMean
	if h, _, _ := c.heavy(); h == 0 && c.Recent == 0 && c.RecentShare == 0 {
		c.Recent = 1
	}
	return c, nil
}
