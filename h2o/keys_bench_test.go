package h2o

import (
	"fmt"
	"math/rand"
	"testing"
)

// BenchmarkKeyRuleStep is one decode step of a key rule at budget B on the
// host: the new token's keys given to the tracker, then one eviction (keydiff
// recomputes its anchor and every cosine). The 7B shape is 32 layers x 8 KV
// heads x 128 at B = 2048: what a device-side key-statistics op would save.
func BenchmarkKeyRuleStep(b *testing.B) {
	for _, sh := range []struct {
		name                       string
		nLayer, nHead, dim, budget int
	}{{"debtext-30m", 8, 4, 64, 256}, {"7B", 32, 8, 128, 2048}} {
		for _, p := range []Policy{Knorm, KeyDiff} {
			b.Run(fmt.Sprintf("%s/%s", sh.name, p), func(b *testing.B) {
				tr := NewTracker(resolve(b, Config{Policy: p, Budget: sh.budget}))
				rng := rand.New(rand.NewSource(1))
				k := Keys{NLayer: sh.nLayer, NHead: sh.nHead, Dim: sh.dim, Data: make([]float32, sh.nLayer*sh.nHead*sh.dim)}
				for i := range k.Data {
					k.Data[i] = float32(rng.NormFloat64())
				}
				for tr.Len() < sh.budget {
					tr.Append([]int32{0}, nil)
					tr.SetKeys(tr.Len()-1, k)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					tr.Append([]int32{0}, nil)
					if err := tr.SetKeys(tr.Len()-1, k); err != nil {
						b.Fatal(err)
					}
					tr.Evict(-1)
				}
			})
		}
	}
}
