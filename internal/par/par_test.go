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

// Ranges runs every index once, each worker on one contiguous range in
// order, the ranges in worker order.
func TestRangesContiguous(t *testing.T) {
	for _, c := range []struct{ n, workers int }{{0, 4}, {1, 1}, {10, 1}, {32, 15}, {100, 7}, {5, 16}} {
		ran := make([][]int, max(c.workers, 1))
		var hits [100]atomic.Int32
		Ranges(c.n, c.workers, func(w, i int) {
			ran[w] = append(ran[w], i) // each worker appends to its own slice only
			hits[i].Add(1)
		})
		var all []int
		for _, r := range ran {
			all = append(all, r...)
		}
		if len(all) != c.n {
			t.Fatalf("n %d workers %d: %d calls", c.n, c.workers, len(all))
		}
		for i, v := range all {
			if v != i || hits[i].Load() != 1 {
				t.Fatalf("n %d workers %d: concatenated order %v", c.n, c.workers, all)
			}
		}
	}
}
