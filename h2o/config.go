// Package h2o is the Heavy-Hitter Oracle KV-cache policy, in pure Go: it
// accumulates the attention each cached token receives, decides which tokens
// to evict under a budget, and computes the position shifts of position
// rolling. It knows nothing of llama.cpp: the session feeds it attention and
// applies its plans to the KV cache.
package h2o

import (
	"fmt"
	"strconv"
	"strings"
)

// Policy names the eviction policy.
type Policy string

const (
	Full   Policy = "full"   // no eviction
	H2O    Policy = "h2o"    // heavy hitters + recent window
	Window Policy = "window" // recent window only
	Sink   Policy = "sink"   // StreamingLLM: first tokens + recent window
)

// ParsePolicy accepts full, h2o, window and sink.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(strings.ToLower(s)); p {
	case Full, H2O, Window, Sink:
		return p, nil
	}
	return "", fmt.Errorf("policy %q: want full, h2o, window or sink", s)
}

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

// ParseAggregate accepts sum, layer-mean and max.
func ParseAggregate(s string) (Aggregate, error) {
	switch a := Aggregate(strings.ToLower(s)); a {
	case AggSum, AggLayerMean, AggMax:
		return a, nil
	case "":
		return AggSum, nil
	}
	return "", fmt.Errorf("score aggregation %q: want sum, layer-mean or max", s)
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

// ParseGranularity accepts token and head.
func ParseGranularity(s string) (Granularity, error) {
	switch g := Granularity(strings.ToLower(strings.TrimSpace(s))); g {
	case PerToken, PerHead:
		return g, nil
	case "":
		return PerToken, nil
	}
	return "", fmt.Errorf("granularity %q: want token or head", s)
}

// ScoreRule says how a token's score evolves from step to step.
type ScoreRule struct {
	Kind  string  // "cum" (recipe), "mean", "ema", "last"
	Gamma float64 // decay of "ema"
}

// ParseScoreRule accepts cum, mean, last and ema:G with 0 < G < 1.
func ParseScoreRule(s string) (ScoreRule, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "", "cum":
		return ScoreRule{Kind: "cum"}, nil
	case "mean", "last":
		return ScoreRule{Kind: s}, nil
	}
	if g, ok := strings.CutPrefix(s, "ema:"); ok {
		v, err := strconv.ParseFloat(g, 64)
		if err != nil || v <= 0 || v >= 1 {
			return ScoreRule{}, fmt.Errorf("score rule %q: ema needs a decay 0 < G < 1, e.g. ema:0.9", s)
		}
		return ScoreRule{Kind: "ema", Gamma: v}, nil
	}
	return ScoreRule{}, fmt.Errorf("score rule %q: want cum, mean, last or ema:G", s)
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

// Config is an eviction policy with its budget. The recipe's flags map as:
// Budget = num_window_length, HeavyHitters = num_heavy_hitter_tokens (-1: half
// the budget), Rolling = enable_position_rolling.
type Config struct {
	Policy       Policy
	Budget       int  // B: most tokens kept in the cache (ignored by Full)
	HeavyHitters int  // H for h2o (-1 = B/2); the recent window is R = B - H
	Recent       int  // R for window/sink (0 = B - SinkTokens); for h2o derived from H
	SinkTokens   int  // first tokens never evicted: sink (default 4); h2o's keep-first (default 0)
	Rolling      bool // kept tokens take their index in the cache as position
	Aggregate    Aggregate
	Score        ScoreRule
	Granularity  Granularity // token (default) or head
}

// Normalize fills defaults and checks the configuration.
func (c Config) Normalize() (Config, error) {
	if c.Policy == "" {
		c.Policy = H2O
	}
	if _, err := ParsePolicy(string(c.Policy)); err != nil {
		return c, err
	}
	if c.Aggregate == "" {
		c.Aggregate = AggSum
	}
	if c.Score.Kind == "" {
		c.Score.Kind = "cum"
	}
	if c.Granularity == "" {
		c.Granularity = PerToken
	}
	if _, err := ParseGranularity(string(c.Granularity)); err != nil {
		return c, err
	}
	if c.Granularity == PerHead {
		switch {
		case c.Policy != H2O:
			// full never evicts; window and sink rank no attention, so every
			// head would keep the same tokens as per-token eviction does.
			return c, fmt.Errorf("granularity head needs the h2o policy (%s keeps the same tokens in every head; use granularity token)", c.Policy)
		case c.Aggregate != AggSum:
			return c, fmt.Errorf("granularity head ranks each KV head by its own attention; score aggregation %s applies to granularity token only", c.Aggregate)
		}
	}
	if c.Policy == Full {
		return c, nil
	}
	if c.Budget < 1 {
		return c, fmt.Errorf("%s: the cache budget must be at least 1 token (got %d)", c.Policy, c.Budget)
	}
	if c.SinkTokens < 0 {
		return c, fmt.Errorf("%s: negative number of sink tokens", c.Policy)
	}
	switch c.Policy {
	case H2O:
		if c.HeavyHitters < 0 {
			c.HeavyHitters = c.Budget / 2
		}
		if c.HeavyHitters >= c.Budget {
			return c, fmt.Errorf("h2o: %d heavy hitters leave no recent window in a budget of %d (need heavy hitters < budget)", c.HeavyHitters, c.Budget)
		}
		c.Recent = c.Budget - c.HeavyHitters
		if c.SinkTokens > c.HeavyHitters {
			return c, fmt.Errorf("h2o: %d kept-first tokens exceed the %d heavy-hitter slots", c.SinkTokens, c.HeavyHitters)
		}
	case Sink:
		if c.SinkTokens == 0 {
			c.SinkTokens = 4
		}
		fallthrough
	case Window:
		if c.Recent <= 0 {
			c.Recent = c.Budget - c.SinkTokens
		}
		if c.Recent+c.SinkTokens > c.Budget {
			return c, fmt.Errorf("%s: %d sink + %d recent tokens exceed the budget of %d", c.Policy, c.SinkTokens, c.Recent, c.Budget)
		}
	}
	if c.Recent < 1 {
		return c, fmt.Errorf("%s: the recent window must hold at least 1 token (budget %d)", c.Policy, c.Budget)
	}
	return c, nil
}

// Evicts reports whether the policy ever evicts.
func (c Config) Evicts() bool { return c.Policy != Full }

// NeedsScores reports whether the policy ranks tokens by attention.
func (c Config) NeedsScores() bool { return c.Policy == H2O }

func (c Config) String() string {
	switch c.Policy {
	case Full:
		return "full"
	case H2O:
		if c.Granularity == PerHead {
			return fmt.Sprintf("h2o B=%d H=%d R=%d per head", c.Budget, c.HeavyHitters, c.Recent)
		}
		return fmt.Sprintf("h2o B=%d H=%d R=%d", c.Budget, c.HeavyHitters, c.Recent)
	case Sink:
		return fmt.Sprintf("sink B=%d S=%d R=%d", c.Budget, c.SinkTokens, c.Recent)
	}
	return fmt.Sprintf("%s B=%d", c.Policy, c.Budget)
}
