package par

import (
	"sync/atomic"
	"testing"
)

// Every index runs exactly once, whatever the number of workers.
func TestForEachIndexOnce(t *testing.T) {
	for _, workers := range []int{0, 1, 3, 64} {
		var hits [100]atomic.Int32
		For(len(hits), workers, func(i int) { hits[i].Add(1) })
		for i := range hits {
			if n := hits[i].Load(); n != 1 {
				t.Fatalf("workers %d: index %d ran %d times", workers, i, n)
			}
		}
	}
}
