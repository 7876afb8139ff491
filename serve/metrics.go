package serve

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/h2o-kv/h2o/session"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics, on a registry of its own.
type metrics struct {
	reg                      *prometheus.Registry
	requests                 *prometheus.CounterVec
	queued                   prometheus.Counter
	promptTokens, genTokens  prometheus.Counter
	evictions                prometheus.Counter
	active, cacheUsed, cells prometheus.Gauge
	slots, tps               prometheus.Gauge
	ttft, duration           prometheus.Histogram
	finishedBy               *prometheus.CounterVec
	mu                       sync.Mutex
	windowStart              time.Time
	windowTokens             int
	windowElapsed            time.Duration
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), windowStart: time.Now()}
	f := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		m.reg.MustRegister(c)
		return c
	}
	g := func(name, help string) prometheus.Gauge {
		c := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		m.reg.MustRegister(c)
		return c
	}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "h2o_http_requests_total", Help: "HTTP requests by path and status code."}, []string{"path", "code"})
	m.finishedBy = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "h2o_generations_total", Help: "Generations ended, by finish reason (stop, length, cancelled, error)."}, []string{"reason"})
	m.reg.MustRegister(m.requests, m.finishedBy)
	m.queued = f("h2o_generation_requests_total", "Generation requests accepted into the queue.")
	m.promptTokens = f("h2o_prompt_tokens_total", "Prompt tokens decoded.")
	m.genTokens = f("h2o_generated_tokens_total", "Tokens generated, counted when their request ends.")
	m.evictions = f("h2o_evictions_total", "Tokens evicted from the KV cache.")
	m.active = g("h2o_active_sequences", "Sequences reading their prompt or generating.")
	m.slots = g("h2o_slots", "Sequences that can run at once.")
	m.cacheUsed = g("h2o_cache_tokens", "Tokens in the KV cache over all sequences.")
	m.cells = g("h2o_cache_cells", "KV cells allocated over all sequences.")
	m.tps = g("h2o_tokens_per_second", "Prompt and generated tokens per second of decoding, over the last second or more.")
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "h2o_queue_depth", Help: "Requests waiting for a free sequence."},
		func() float64 { return float64(len(s.queue)) }))
	m.ttft = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h2o_time_to_first_token_seconds", Help: "From a request's arrival in the queue to its first generated token.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)})
	m.duration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h2o_generation_duration_seconds", Help: "From a request's arrival in the queue to its end.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)})
	m.reg.MustRegister(m.ttft, m.duration, collectors.NewGoCollector())
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *metrics) request(path string, code int) {
	switch path {
	case "/health", "/metrics", "/v1/models", "/v1/completions", "/v1/chat/completions":
	default:
		path = "other" // one series per endpoint, whatever clients send
	}
	m.requests.WithLabelValues(path, strconv.Itoa(code)).Inc()
}

// stepped records a Batcher step (called by the loop only).
func (m *metrics) stepped(before, after session.BatchStats, active, cacheUsed int) {
	n := after.PromptTokens + after.GenTokens - before.PromptTokens - before.GenTokens
	m.promptTokens.Add(float64(after.PromptTokens - before.PromptTokens))
	m.evictions.Add(float64(after.Evictions - before.Evictions))
	m.active.Set(float64(active))
	m.cacheUsed.Set(float64(cacheUsed))
	m.windowTokens += n
	m.windowElapsed += after.Elapsed - before.Elapsed
	if time.Since(m.windowStart) >= time.Second {
		if m.windowElapsed > 0 {
			m.tps.Set(float64(m.windowTokens) / m.windowElapsed.Seconds())
		}
		m.windowStart, m.windowTokens, m.windowElapsed = time.Now(), 0, 0
	}
}

// finished records a request's end (called by the loop only).
func (m *metrics) finished(j *job, d session.Done) {
	// Evictions of cancelled requests count too: Cancel reports them.
	now := time.Now()
	j.mu.Lock()
	first := j.first
	j.mu.Unlock()
	if !first.IsZero() {
		m.ttft.Observe(first.Sub(j.enqueued).Seconds())
	}
	m.duration.Observe(now.Sub(j.enqueued).Seconds())
	m.genTokens.Add(float64(d.Result.NTokens))
	reason := finishReason(d)
	switch {
	case d.Err == nil:
	case fatal(d):
		reason = "error"
	case d.Err == session.ErrCancelled:
		reason = "cancelled"
	}
	m.finishedBy.WithLabelValues(reason).Inc()
}
