// Package logprob holds the numerics of log-probabilities over a vocabulary's
// logits, shared by the evaluation and the tools.
package logprob

import "math"

// LogSumExp returns log Σ exp(logits) (in float64, shifted by the maximum
// for stability) and the index of the largest logit (the first on ties).
func LogSumExp(logits []float32) (float64, int) {
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

// Of is the log-probability of token tok under softmax(logits).
func Of(logits []float32, tok int32) float64 {
	logZ, _ := LogSumExp(logits)
	return float64(logits[tok]) - logZ
}
