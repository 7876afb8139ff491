package h2o

import (
	"fmt"
	"slices"
)

// Sweep is a grid of requests to compare in one run: every policy at every
// budget and rolling setting, and h2o also at every heavy-hitter ratio,
// granularity, aggregation and score rule. An empty list takes Base's value;
// Base gives every other field.
type Sweep struct {
	Base          Config
	Policies      []Policy
	Budgets       []int
	Rolling       []bool
	HeavyRatios   []float64 // h2o: H = ratio*B, in place of Base's heavy size
	Granularities []Granularity
	Aggregates    []Aggregate
	Scores        []ScoreRule
	Prompts       []PromptRule // evicting policies
}

// Expand lists the requests, policy by policy, then budget, rolling, ratio,
// granularity, aggregation and score rule. Full appears once (no budget, no
// rolling); window, sink, tova, knorm and keydiff once per budget and
// rolling setting, with granularity token (they keep the same tokens in every
// head), the heavy split of their own defaults (Base's recent and sink sizes
// apply) and the first aggregation and score rule (tova: its own). Granularity head pairs
// only with the sum aggregation (a head ranks by its group's summed
// attention); a listed head granularity that no aggregation suits is an error.
// Every evicting request comes once per prompt rule of Prompts.
func (s Sweep) Expand() ([]Config, error) {
	policies := orBase(s.Policies, s.Base.Policy)
	budgets := orBase(s.Budgets, s.Base.Budget)
	rollings := orBase(s.Rolling, s.Base.Rolling)
	grans := orBase(s.Granularities, s.Base.Granularity)
	aggs := orBase(s.Aggregates, s.Base.Aggregate)
	scores := orBase(s.Scores, s.Base.Score)
	if slices.ContainsFunc(grans, isPerHead) && !slices.ContainsFunc(aggs, isSum) {
		return nil, fmt.Errorf("granularity head ranks each KV head by its group's summed attention: the aggregations (%v) must include sum", aggs)
	}
	first := s.Base
	first.Aggregate, first.Score = aggs[0], scores[0]
	var out []Config
	for _, p := range policies {
		if p == Full {
			out = append(out, Config{Policy: Full, Aggregate: first.Aggregate, Score: first.Score})
			continue
		}
		for _, b := range budgets {
			for _, rolling := range rollings {
				c := first
				c.Policy, c.Budget, c.Rolling = p, b, rolling
				if p != H2O && p != "" {
					c.HeavyHitters, c.HeavyRatio, c.Granularity = 0, 0, PerToken
					if p == TOVA {
						// its own score rule and aggregation
						c.Score, c.Aggregate = ScoreRule{}, ""
					}
					out = append(out, c)
					continue
				}
				for _, ratio := range s.HeavyRatios {
					c.HeavyHitters, c.HeavyRatio = 0, ratio
					out = s.h2oGrid(out, c, grans, aggs, scores)
				}
				if len(s.HeavyRatios) == 0 {
					out = s.h2oGrid(out, c, grans, aggs, scores)
				}
			}
		}
	}
	return s.withPrompts(out), nil
}

// withPrompts repeats every evicting request once per prompt rule.
func (s Sweep) withPrompts(reqs []Config) []Config {
	if len(s.Prompts) == 0 {
		return reqs
	}
	var out []Config
	for _, c := range reqs {
		if !c.Evicts() {
			out = append(out, c)
			continue
		}
		for _, pr := range s.Prompts {
			c.Prompt = pr
			out = append(out, c)
		}
	}
	return out
}

func (s Sweep) h2oGrid(out []Config, c Config, grans []Granularity, aggs []Aggregate, scores []ScoreRule) []Config {
	for _, g := range grans {
		for _, a := range aggs {
			if isPerHead(g) && !isSum(a) {
				continue
			}
			for _, r := range scores {
				c.Granularity, c.Aggregate, c.Score = g, a, r
				out = append(out, c)
			}
		}
	}
	return out
}

func orBase[T any](list []T, base T) []T {
	if len(list) == 0 {
		return []T{base}
	}
	return list
}

func isPerHead(g Granularity) bool { return g == PerHead }
func isSum(a Aggregate) bool       { return a == AggSum || a == "" }
