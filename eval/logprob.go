package eval

import "math"

// logSumExp returns log Σ exp(logits) (in float64, shifted by the maximum
// for stability) and the index of the largest logit (the first on ties).
func logSumExp(logits []float32) (float64, int) {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	mx := float64(logits[best])
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(sum), best
}

// probs fills p with softmax(logits) given their logSumExp.
func probs(logits []float32, logZ float64, p []float64) []float64 {
	if cap(p) < len(logits) {
		p = make([]float64, len(logits))
	}
	p = p[:len(logits)]
	for i, v := range logits {
		p[i] = math.Exp(float64(v) - logZ)
	}
	return p
}

// kl is KL(P || Q) = Σ p (log p - log q) for P = softmax(lp) (probabilities
// pp, normaliser zp) and Q = softmax(lq) (normaliser zq).
func kl(pp []float64, lp []float32, zp float64, lq []float32, zq float64) float64 {
	var s float64
	for i, p := range pp {
		if p == 0 {
			continue
		}
		s += p * ((float64(lp[i]) - zp) - (float64(lq[i]) - zq))
	}
	return max(s, 0) // rounding can leave a tiny negative for equal distributions
}
