package logprob

import (
	"math"
	"testing"
)

func TestLogSumExp(t *testing.T) {
	l := []float32{1, 3, 3, -2}
	want := math.Log(math.Exp(1) + 2*math.Exp(3) + math.Exp(-2))
	z, best := LogSumExp(l)
	if math.Abs(z-want) > 1e-12 || best != 1 {
		t.Fatalf("LogSumExp = %g, %d; want %g, 1 (the first maximum)", z, best, want)
	}
	// Large logits must not overflow.
	z, _ = LogSumExp([]float32{1000, 1000})
	if want := 1000 + math.Ln2; math.Abs(z-want) > 1e-9 {
		t.Fatalf("LogSumExp(1000, 1000) = %g, want %g", z, want)
	}
	var sum float64
	for tok := range l {
		sum += math.Exp(Of(l, int32(tok)))
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Fatalf("probabilities sum to %g", sum)
	}
	z, _ = LogSumExp(l)
	if got := Of(l, 3); math.Abs(got-(-2-z)) > 1e-12 {
		t.Fatalf("Of = %g, want %g", got, -2-z)
	}
}
