package session

import "time"

// Stats count what a session did.
type Stats struct {
	Seen         int64 // tokens that ever entered the cache
	CacheUsed    int   // tokens in the cache now
	CacheCells   int   // KV cells allocated
	Evictions    int64
	PromptTokens int
	PromptTime   time.Duration
	GenTokens    int
	GenTime      time.Duration
	PastTrained  bool // positions went past the trained context (no rolling)
}

// Since is what happened after before (counters as differences; the cache
// state as it is now).
func (s Stats) Since(before Stats) Stats {
	s.Evictions -= before.Evictions
	s.PromptTokens -= before.PromptTokens
	s.PromptTime -= before.PromptTime
	s.GenTokens -= before.GenTokens
	s.GenTime -= before.GenTime
	return s
}

// PromptTPS is prompt tokens per second.
func (s Stats) PromptTPS() float64 { return rate(s.PromptTokens, s.PromptTime) }

// GenTPS is generated tokens per second.
func (s Stats) GenTPS() float64 { return rate(s.GenTokens, s.GenTime) }

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
