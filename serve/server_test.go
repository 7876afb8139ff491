package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/internal/testmodel"
	"github.com/h2o-kv/h2o/session"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const modelID = "stories260K"

type testServer struct {
	url    string
	srv    *Server
	client openai.Client
}

// startServer serves stories260K on 127.0.0.1 and a free port: slots
// sequences under policy (f32 caches: batched and lone decodes then agree
// to ~1e-6, so greedy texts are equal), chat with chatml unless cfg says.
func startServer(t *testing.T, m *binding.Model, slots int, policy h2o.Config, cfg Config) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.ModelID, cfg.Policy = modelID, policy
	srv := New(cfg)
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	b, err := session.NewBatcher(m, session.Options{Policy: policy, Chunk: 32, TypeK: "f32", TypeV: "f32", FlashAttn: "off", Threads: 1}, slots)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start(m, b)
	t.Cleanup(func() {
		srv.Drain()
		srv.Abort()
		hs.Close()
		srv.Wait()
		b.Close()
	})
	url := "http://" + ln.Addr().String()
	return &testServer{url: url, srv: srv, client: openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("none"), option.WithMaxRetries(0))}
}

var defaultPolicy = h2o.Config{Policy: h2o.H2O, Budget: 48, HeavyHitters: 24, Rolling: true}

func completionParams(prompt string, n int) openai.CompletionNewParams {
	return openai.CompletionNewParams{Model: modelID, Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)},
		MaxTokens: openai.Int(int64(n)), Temperature: openai.Float(0)}
}

// usageH2O is the usage's h2o echo from a raw response.
func usageH2O(t *testing.T, raw string) usagePolicy {
	t.Helper()
	var r struct {
		Usage struct {
			H2O usagePolicy `json:"h2o"`
		} `json:"usage"`
	}
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		t.Fatal(err)
	}
	return r.Usage.H2O
}

// Completions and chat completions, whole and streamed: the chunks add up
// to the whole answer, usage and the policy echo come with both.
func TestCompletionsAndChat(t *testing.T) {
	m := testmodel.Stories(t)
	ts := startServer(t, m, 2, defaultPolicy, Config{Template: "chatml"})
	ctx := context.Background()
	override := option.WithJSONSet("h2o", map[string]any{"budget": 32, "heavy": 8})

	for _, stop := range []string{"", "."} {
		p := completionParams("Once upon a time", 40)
		if stop != "" {
			p.Stop = openai.CompletionNewParamsStopUnion{OfString: openai.String(stop)}
		}
		whole, err := ts.client.Completions.New(ctx, p, override)
		if err != nil {
			t.Fatal(err)
		}
		text := whole.Choices[0].Text
		if text == "" || whole.Usage.CompletionTokens == 0 || whole.Usage.PromptTokens == 0 ||
			whole.Usage.TotalTokens != whole.Usage.PromptTokens+whole.Usage.CompletionTokens {
			t.Fatalf("completion %q usage %+v", text, whole.Usage)
		}
		if stop != "" && (strings.Contains(text, stop) || whole.Choices[0].FinishReason != "stop") {
			t.Fatalf("stop %q: %q (%s)", stop, text, whole.Choices[0].FinishReason)
		}
		if u := usageH2O(t, whole.RawJSON()); u.Mode != "h2o" || u.Budget != 32 || u.Heavy != 8 || u.Recent != 24 || !u.Rolling {
			t.Fatalf("policy echo %+v", u)
		}
		st := ts.client.Completions.NewStreaming(ctx, p, override)
		var b strings.Builder
		var reason string
		var last openai.Completion
		chunks := 0
		for st.Next() {
			c := st.Current()
			chunks++
			if len(c.Choices) > 0 {
				b.WriteString(c.Choices[0].Text)
				if c.Choices[0].FinishReason != "" {
					reason = string(c.Choices[0].FinishReason)
				}
			}
			last = c
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		// (how many chunks depends on timing: pieces sampled between two
		// writes go in one chunk; the disconnect test reads an endless stream)
		if b.String() != text || reason != string(whole.Choices[0].FinishReason) || chunks < 2 {
			t.Fatalf("stop %q: streamed %q (%s, %d chunks), whole %q (%s)", stop, b.String(), reason, chunks, text, whole.Choices[0].FinishReason)
		}
		if last.Usage.CompletionTokens != whole.Usage.CompletionTokens {
			t.Fatalf("streamed usage %+v, whole %+v", last.Usage, whole.Usage)
		}
	}

	cp := openai.ChatCompletionNewParams{Model: modelID, Messages: []openai.ChatCompletionMessageParamUnion{
		openai.SystemMessage("Tell a story."), openai.UserMessage("Lily and Tom went to the park."),
	}, MaxTokens: openai.Int(30), Temperature: openai.Float(0)}
	whole, err := ts.client.Chat.Completions.New(ctx, cp)
	if err != nil {
		t.Fatal(err)
	}
	text := whole.Choices[0].Message.Content
	if text == "" || whole.Choices[0].Message.Role != "assistant" || whole.Usage.CompletionTokens == 0 {
		t.Fatalf("chat %+v", whole)
	}
	// the prompt is the chatml rendering, its markers read as control tokens
	want, _ := m.Tokenize("<|im_start|>system\nTell a story.<|im_end|>\n<|im_start|>user\nLily and Tom went to the park.<|im_end|>\n<|im_start|>assistant\n", true, true)
	if int(whole.Usage.PromptTokens) != len(want) {
		t.Fatalf("chat prompt %d tokens, the chatml text has %d", whole.Usage.PromptTokens, len(want))
	}
	st := ts.client.Chat.Completions.NewStreaming(ctx, cp)
	acc := openai.ChatCompletionAccumulator{}
	for st.Next() {
		acc.AddChunk(st.Current())
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if got := acc.Choices[0].Message.Content; got != text || acc.Choices[0].FinishReason != whole.Choices[0].FinishReason || acc.Usage.CompletionTokens != whole.Usage.CompletionTokens {
		t.Fatalf("streamed chat %q (%s, %+v), whole %q (%s)", got, acc.Choices[0].FinishReason, acc.Usage, text, whole.Choices[0].FinishReason)
	}

	models, err := ts.client.Models.List(ctx)
	if err != nil || len(models.Data) != 1 || models.Data[0].ID != modelID {
		t.Fatalf("models %+v %v", models, err)
	}
}

var greedyPrompts = []string{
	"Once upon a time", "The cat sat on the mat.", "Lily had a red ball.", "Tom and Sue went to the beach.",
	"One day, a big bird", "Mom said the cake", "The dog ran fast", "There was a little girl named Amy.",
	"The sun was hot.", "Ben liked to play with his truck.", "A small fish", "The tree was very tall.",
	"Sam found a shiny rock.", "It was a rainy day.", "The boy and his dad", "Anna wanted a new toy.",
}

// 16 concurrent greedy requests (4 slots, the rest queued and started as
// slots free up) each get the text the same request gets alone.
func TestConcurrentGreedyEqualsAlone(t *testing.T) {
	m := testmodel.Stories(t)
	ts := startServer(t, m, 4, defaultPolicy, Config{Queue: 32})
	ctx := context.Background()
	n := 60 // past the budget: every request evicts
	alone := make([]string, len(greedyPrompts))
	for i, p := range greedyPrompts {
		r, err := ts.client.Completions.New(ctx, completionParams(p, n), option.WithJSONSet("ignore_eos", true))
		if err != nil {
			t.Fatal(err)
		}
		alone[i] = r.Choices[0].Text
		if u := usageH2O(t, r.RawJSON()); u.Evictions == 0 {
			t.Fatalf("request %d did not evict: %+v", i, u)
		}
	}
	got := make([]string, len(greedyPrompts))
	errs := make([]error, len(greedyPrompts))
	var wg sync.WaitGroup
	for i, p := range greedyPrompts {
		wg.Go(func() {
			r, err := ts.client.Completions.New(ctx, completionParams(p, n), option.WithJSONSet("ignore_eos", true))
			if err == nil {
				got[i] = r.Choices[0].Text
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i := range greedyPrompts {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if got[i] != alone[i] {
			t.Fatalf("request %d with 15 others:\n%q\nalone:\n%q", i, got[i], alone[i])
		}
	}
}

// metricValue reads one sample of /metrics (the text format, parsed as
// Prometheus parses it); labels select the series.
func metricValue(t *testing.T, url, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	f, ok := fams[name]
	if !ok {
		t.Fatalf("/metrics has no %s", name)
	}
	for _, mt := range f.Metric {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range mt.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case mt.Counter != nil:
			return mt.Counter.GetValue()
		case mt.Gauge != nil:
			return mt.Gauge.GetValue()
		case mt.Histogram != nil:
			return float64(mt.Histogram.GetSampleCount())
		}
	}
	return 0
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// With one slot and a queue of one: a second request waits, a third is
// answered 503 with Retry-After; the first client's disconnect mid-stream
// frees the slot, which the waiting request then gets.
func TestQueueFullAndDisconnect(t *testing.T) {
	m := testmodel.Stories(t)
	ts := startServer(t, m, 1, defaultPolicy, Config{Queue: 1})
	ctx, cancel := context.WithCancel(context.Background())
	// endless: rolling h2o and no EOS
	st := ts.client.Completions.NewStreaming(ctx, completionParams("Once upon a time", 1_000_000), option.WithJSONSet("ignore_eos", true))
	for range 3 {
		if !st.Next() {
			t.Fatalf("stream ended: %v", st.Err())
		}
	}
	queued := make(chan error, 1)
	var text string
	go func() {
		r, err := ts.client.Completions.New(context.Background(), completionParams("The cat", 8))
		if err == nil {
			text = r.Choices[0].Text
		}
		queued <- err
	}()
	waitFor(t, "a queued request", func() bool { return metricValue(t, ts.url, "h2o_queue_depth") == 1 })
	resp, err := http.Post(ts.url+"/v1/completions", "application/json", strings.NewReader(`{"prompt": "The dog", "max_tokens": 4}`))
	if err != nil {
		t.Fatal(err)
	}
	checkError(t, resp, http.StatusServiceUnavailable, "queue_full")
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	select {
	case err := <-queued:
		t.Fatalf("the queued request ran while the slot was taken (%v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	st.Close()
	select {
	case err := <-queued:
		if err != nil || text == "" {
			t.Fatalf("after the disconnect: %q %v", text, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the disconnected request kept its slot")
	}
	if got := metricValue(t, ts.url, "h2o_generations_total", "reason", "cancelled"); got != 1 {
		t.Fatalf("%g cancelled generations", got)
	}
	waitFor(t, "no active sequence", func() bool { return metricValue(t, ts.url, "h2o_active_sequences") == 0 })
}

// checkError reads an OpenAI error answer.
func checkError(t *testing.T, resp *http.Response, status int, code string) {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct {
			Message, Type, Code *string
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Message == nil || *e.Error.Message == "" || e.Error.Type == nil || e.Error.Code == nil {
		t.Fatalf("status %d: not an OpenAI error body: %s", resp.StatusCode, body)
	}
	if resp.StatusCode != status || *e.Error.Code != code {
		t.Fatalf("status %d code %s (%s), want %d %s", resp.StatusCode, *e.Error.Code, *e.Error.Message, status, code)
	}
}

// Every error answers with its status and an OpenAI error body; none
// leaks a slot or stops the server.
func TestErrors(t *testing.T) {
	m := testmodel.Stories(t)
	ts := startServer(t, m, 1, defaultPolicy, Config{MaxBody: 4096, NoTemplate: errors.New("the model has no chat template: pass --chat-template NAME")})
	long := strings.Repeat("The cat sat on the mat. ", 30) // > 128 cells of a sequence
	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/v1/completions", `{"prompt": "Once`, 400, "invalid_json"},
		{"POST", "/v1/completions", `[1, 2]`, 400, "invalid_json"},
		{"POST", "/v1/completions", `{"model": "gpt-4", "prompt": "Once"}`, 400, "model_not_found"},
		{"POST", "/v1/chat/completions", `{"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}`, 400, "model_not_found"},
		{"POST", "/v1/completions", fmt.Sprintf(`{"prompt": %q, "h2o": {"mode": "full"}}`, long), 400, "context_length_exceeded"},
		{"POST", "/v1/completions", `{"prompt": "Once", "h2o": {"mode": "full", "heavy": 8}}`, 400, "invalid_policy"},
		{"POST", "/v1/completions", `{"prompt": "Once", "h2o": {"budget": 1000}}`, 400, "invalid_policy"},
		{"POST", "/v1/completions", `{"prompt": "Once", "h2o": {"mode": "lru"}}`, 400, "invalid_policy"},
		{"POST", "/v1/completions", `{"prompt": "Once", "h2o": {"budget": 32, "heavy": 40}}`, 400, "invalid_policy"},
		{"POST", "/v1/completions", `{"prompt": "Once", "temperature": 5}`, 400, "invalid_value"},
		{"POST", "/v1/completions", `{"prompt": "Once", "n": 2}`, 400, "invalid_value"},
		{"POST", "/v1/completions", `{"prompt": "Once", "max_tokens": 0}`, 400, "invalid_value"},
		{"POST", "/v1/completions", `{"prompt": ""}`, 400, "invalid_value"},
		{"POST", "/v1/completions", `{"prompt": 42}`, 400, "invalid_value"},
		{"POST", "/v1/completions", `{"prompt": [1, 100000]}`, 400, "invalid_value"},
		{"POST", "/v1/completions", `{"prompt": []}`, 400, "invalid_value"},
		{"POST", "/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}]}`, 400, "no_chat_template"},
		{"POST", "/v1/completions", fmt.Sprintf(`{"prompt": %q}`, strings.Repeat("x", 5000)), 413, "request_too_large"},
		{"GET", "/v1/completions", "", 405, "method_not_allowed"},
		{"POST", "/v1/embeddings", `{}`, 404, "not_found"},
	} {
		req, _ := http.NewRequest(tc.method, ts.url+tc.path, strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		checkError(t, resp, tc.status, tc.code)
	}
	// the official client sees the same errors
	_, err := ts.client.Completions.New(context.Background(), openai.CompletionNewParams{Model: "gpt-4", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("hi")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Code != "model_not_found" {
		t.Fatalf("client error %v", err)
	}
	// and the one slot is still there
	r, err := ts.client.Completions.New(context.Background(), completionParams("Once upon a time", 8))
	if err != nil || r.Choices[0].Text == "" {
		t.Fatalf("after the errors: %v", err)
	}
	if got := metricValue(t, ts.url, "h2o_active_sequences"); got != 0 {
		t.Fatalf("%g active sequences after the requests", got)
	}
}

// /health is 503 until the model is ready, and /metrics parses as
// Prometheus text with counters that move.
func TestHealthAndMetrics(t *testing.T) {
	loading := New(Config{ModelID: modelID})
	for _, path := range []string{"/health", "/v1/models"} {
		req, _ := http.NewRequest("GET", path, nil)
		w := &recorder{header: http.Header{}}
		loading.Handler().ServeHTTP(w, req)
		if w.status != http.StatusServiceUnavailable {
			t.Fatalf("%s while loading: %d", path, w.status)
		}
	}
	m := testmodel.Stories(t)
	ts := startServer(t, m, 2, defaultPolicy, Config{})
	resp, err := http.Get(ts.url + "/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/health when ready: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	gen0 := metricValue(t, ts.url, "h2o_generated_tokens_total")
	req0 := metricValue(t, ts.url, "h2o_http_requests_total", "path", "/v1/completions", "code", "200")
	r, err := ts.client.Completions.New(context.Background(), completionParams("Once upon a time", 60), option.WithJSONSet("ignore_eos", true))
	if err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, ts.url, "h2o_generated_tokens_total") - gen0; got != float64(r.Usage.CompletionTokens) {
		t.Fatalf("generated tokens counter moved by %g for %d tokens", got, r.Usage.CompletionTokens)
	}
	if got := metricValue(t, ts.url, "h2o_http_requests_total", "path", "/v1/completions", "code", "200") - req0; got != 1 {
		t.Fatalf("requests counter moved by %g", got)
	}
	for _, name := range []string{"h2o_prompt_tokens_total", "h2o_evictions_total", "h2o_time_to_first_token_seconds", "h2o_cache_cells", "h2o_slots"} {
		if metricValue(t, ts.url, name) <= 0 {
			t.Fatalf("%s did not move", name)
		}
	}
}

type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return len(b), nil
}
func (r *recorder) WriteHeader(s int) { r.status = s }

// The parts of a streamed text that are held back: a possible stop string
// start and an incomplete UTF-8 character.
func TestStreamable(t *testing.T) {
	for _, tc := range []struct {
		text string
		stop []string
		want string
	}{
		{"Hello wor", []string{"world"}, "Hello "},
		{"Hello", []string{"\n\n"}, "Hello"},
		{"Hello\n", []string{"\n\n"}, "Hello"},
		{"caf\xc3", nil, "caf"},
		{"café", nil, "café"},
		{"ab", []string{"abc", "b"}, ""},
		{"xab", []string{"abc", "bd"}, "x"},
	} {
		if got := streamable(tc.text, tc.stop); got != tc.want {
			t.Errorf("streamable(%q, %q) = %q, want %q", tc.text, tc.stop, got, tc.want)
		}
	}
}
