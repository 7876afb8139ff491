package session

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Sampling chooses the next token: greedy when Temperature <= 0, else
// temperature + nucleus (top-p) sampling from a seeded generator.
type Sampling struct {
	Temperature float64
	TopP        float64 // 0 or >= 1: no nucleus cut
	Seed        uint64
	TopLogprobs int // alternatives reported per token (0: none)
}

// Sampler holds the generator and scratch space of a Sampling.
type Sampler struct {
	cfg       Sampling
	noLogprob bool // the caller does not read the log-probability
	rng       *rand.Rand
	probs     []float64
	idx       []int
}

// NewSampler seeds a sampler.
func NewSampler(s Sampling) *Sampler {
	return &Sampler{cfg: s, rng: rand.New(rand.NewPCG(s.Seed, s.Seed^0x9e3779b97f4a7c15))}
}

// TokenLogprob is a token with its log-probability under the model.
type TokenLogprob struct {
	Token   int32
	Logprob float64
}

// greedyOnly reports whether the caller needs only the largest logit's
// index: greedy, and no log-probability read.
func (s *Sampler) greedyOnly() bool {
	return s.noLogprob && s.cfg.Temperature <= 0 && s.cfg.TopLogprobs == 0
}

// Sample picks a token from logits and returns it with its log-probability
// (log-softmax of the raw logits) and, if asked, the top alternatives. The
// token is -1 when no logit is finite (a model with NaN weights).
func (s *Sampler) Sample(logits []float32) (int32, float64, []TokenLogprob) {
	maxv := float32(math.Inf(-1))
	best := -1
	for i, v := range logits {
		if v > maxv {
			maxv, best = v, i
		}
	}
	if best < 0 || math.IsInf(float64(maxv), 1) {
		return -1, math.NaN(), nil
	}
	if s.greedyOnly() {
		// greedy, and nobody reads the log-probability: skip the softmax over
		// the vocabulary (with many sequences it would dominate a step's Go time)
		return int32(best), math.NaN(), nil
	}
	lse := 0.0
	for _, v := range logits {
		lse += math.Exp(float64(v - maxv))
	}
	logZ := float64(maxv) + math.Log(lse)
	var tok int
	if s.cfg.Temperature <= 0 {
		tok = best
	} else {
		tok = s.nucleus(logits, maxv)
	}
	var top []TokenLogprob
	if s.cfg.TopLogprobs > 0 {
		top = topK(logits, s.cfg.TopLogprobs, logZ)
	}
	return int32(tok), float64(logits[tok]) - logZ, top
}

func (s *Sampler) nucleus(logits []float32, maxv float32) int {
	n := len(logits)
	s.probs = slices.Grow(s.probs[:0], n)[:n]
	s.idx = slices.Grow(s.idx[:0], n)[:n]
	sum := 0.0
	for i, v := range logits {
		p := math.Exp(float64(v-maxv) / s.cfg.Temperature)
		s.probs[i] = p
		s.idx[i] = i
		sum += p
	}
	order := s.idx
	if s.cfg.TopP > 0 && s.cfg.TopP < 1 {
		slices.SortFunc(order, func(a, b int) int {
			switch {
			case s.probs[a] > s.probs[b]:
				return -1
			case s.probs[a] < s.probs[b]:
				return 1
			}
			return a - b
		})
		acc := 0.0
		for k, i := range order {
			acc += s.probs[i] / sum
			if acc >= s.cfg.TopP {
				order = order[:k+1]
				break
			}
		}
	}
	total := 0.0
	for _, i := range order {
		total += s.probs[i]
	}
	r := s.rng.Float64() * total
	for _, i := range order {
		r -= s.probs[i]
		if r <= 0 {
			return i
		}
	}
	return order[len(order)-1]
}

func topK(logits []float32, k int, logZ float64) []TokenLogprob {
	out := make([]TokenLogprob, 0, k+1)
	for i, v := range logits {
		lp := float64(v) - logZ
		if len(out) < k || lp > out[len(out)-1].Logprob {
			j, _ := slices.BinarySearchFunc(out, lp, func(e TokenLogprob, t float64) int {
				if e.Logprob > t {
					return -1
				}
				return 1
			})
			out = slices.Insert(out, j, TokenLogprob{int32(i), lp})
			if len(out) > k {
				out = out[:k]
			}
		}
	}
	return out
}
