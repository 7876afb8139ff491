// Package par runs independent pieces of work on a bounded number of goroutines.
package par

import (
	"sync"
	"sync/atomic"
)

// For calls f(0..n-1) on up to workers goroutines (inline when workers <= 1).
func For(n, workers int, f func(int)) {
	if workers <= 1 || n <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

// Ranges calls f(w, i) for every i in 0..n-1, split into workers contiguous
// ranges of equal length (the last ones shorter or empty): worker w runs its
// range in order, so output gathered per worker and concatenated in w order
// is in index order. Inline, as worker 0, when workers <= 1.
func Ranges(n, workers int, f func(w, i int)) {
	if workers <= 1 {
		for i := range n {
			f(0, i)
		}
		return
	}
	per := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w * per; i < min((w+1)*per, n); i++ {
				f(w, i)
			}
		})
	}
	wg.Wait()
}
