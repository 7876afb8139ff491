package eval

import "math"

// probs fills p with softmax(logits) given their logprob.LogSumExp.
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
