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
