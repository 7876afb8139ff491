package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/internal/testmodel"
	"github.com/h2o-kv/h2o/session"
)

var testTurns = []Turn{
	{QuestionID: 1, Category: "writing", Turn: 1, Text: "Tell me a story about a cat and a dog who go to the park together."},
	{QuestionID: 1, Category: "writing", Turn: 2, Text: "Now make it shorter."},
	{QuestionID: 2, Category: "roleplay", Turn: 1, Text: "Lily wants to play with her ball."},
	{QuestionID: 2, Category: "roleplay", Turn: 2, Text: "What did her mom say?"},
}

func loadStories(t *testing.T) *binding.Model { return testmodel.Stories(t) }

func newSession(t *testing.T, m *binding.Model, o session.Options) *session.Session {
	t.Helper()
	o.Threads = 1 // tiny model: one thread is fastest
	s, err := session.New(m, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// spy records what the runner asks of the session.
type spy struct {
	*session.Session
	makeRoom    []int // n of each call
	cacheBefore []int // cache length before each call
	cacheAfter  []int
	steps       int
}

func (s *spy) MakeRoom(n int) {
	s.makeRoom = append(s.makeRoom, n)
	s.cacheBefore = append(s.cacheBefore, s.CacheLen())
	s.Session.MakeRoom(n)
	s.cacheAfter = append(s.cacheAfter, s.CacheLen())
}

func (s *spy) Step(tok int32) error { s.steps++; return s.Session.Step(tok) }

// h2o keeps its budget across samples: MakeRoom before every prompt, the
// cache within the budget after every sample, every token accounted for.
func TestRunH2OKeepsBudgetAcrossSamples(t *testing.T) {
	m := loadStories(t)
	const budget, maxGen = 48, 24
	pol := h2o.Config{Policy: h2o.H2O, Budget: budget, HeavyHitters: 24, Rolling: true}
	sp := &spy{Session: newSession(t, m, session.Options{Policy: pol, Chunk: 16})}
	var stats bytes.Buffer
	res, err := Run(context.Background(), sp, m, testTurns, Config{
		MaxGenLen: maxGen, Loops: 2, Budget: budget, EvictForSpace: true, Stats: &stats,
		Memory: MemorySampler(false),
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 2 * len(testTurns)
	if len(res.Records) != n || res.Total != n || len(sp.makeRoom) != n {
		t.Fatalf("%d records, total %d, %d MakeRoom calls; want %d", len(res.Records), res.Total, len(sp.makeRoom), n)
	}
	var seen int64
	fed := 0
	for i, r := range res.Records {
		toks, _ := m.Tokenize(Prompt(testTurns[i%len(testTurns)].Text), true, false)
		if m.Info().AddBOS && toks[0] != m.Info().BOS {
			t.Fatalf("prompt does not start with BOS: %v", toks[:3])
		}
		if r.PromptTokens != len(toks) {
			t.Fatalf("sample %d: %d prompt tokens, want %d (with BOS)", r.Sample, r.PromptTokens, len(toks))
		}
		if sp.makeRoom[i] != len(toks)+maxGen {
			t.Fatalf("sample %d: MakeRoom(%d), want prompt+max-gen-len = %d", r.Sample, sp.makeRoom[i], len(toks)+maxGen)
		}
		if i > 0 && sp.cacheAfter[i] > max(budget-sp.makeRoom[i], pol.Budget-pol.HeavyHitters) {
			t.Fatalf("sample %d: MakeRoom left %d tokens (before %d)", r.Sample, sp.cacheAfter[i], sp.cacheBefore[i])
		}
		if r.CacheUsed > budget || r.CachePeak > budget || r.Budget != budget {
			t.Fatalf("sample %d: cache %d (peak %d) over the budget %d", r.Sample, r.CacheUsed, r.CachePeak, r.Budget)
		}
		if r.Finish != "length" && r.Finish != "eos" || r.GenTokens < 1 || r.GenTokens > maxGen {
			t.Fatalf("sample %d: finish %q after %d tokens", r.Sample, r.Finish, r.GenTokens)
		}
		// the last token (EOS or the max-gen-len-th) is not fed back
		seen += int64(r.PromptTokens + r.GenTokens)
		if r.Finish == "length" {
			seen--
			fed += r.GenTokens - 1
		} else {
			fed += r.GenTokens
		}
		if r.Seen != seen {
			t.Fatalf("sample %d: seen %d, want %d", r.Sample, r.Seen, seen)
		}
		if r.Loop != 1+i/len(testTurns) || r.Sample != i+1 || r.RSS <= 0 || r.DecodeTPS <= 0 || r.PrefillTPS <= 0 {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
	if sp.steps != fed {
		t.Fatalf("%d steps, want %d", sp.steps, fed)
	}
	if last := res.Records[n-1]; last.Evictions != last.Seen-int64(last.CacheUsed) || last.Evictions == 0 {
		t.Fatalf("evictions %d, seen %d, cache %d", last.Evictions, last.Seen, last.CacheUsed)
	}
	// one JSON line per sample with the documented fields
	sc := bufio.NewScanner(&stats)
	lines := 0
	for sc.Scan() {
		var obj map[string]any
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"sample", "loop", "question_id", "turn", "prompt_tokens", "generated_tokens", "seen_total",
			"cache_used", "budget", "evictions", "prefill_tps", "decode_tps", "rss_bytes", "vram_bytes"} {
			if _, ok := obj[k]; !ok {
				t.Fatalf("line %d lacks %s: %s", lines+1, k, sc.Text())
			}
		}
		lines++
	}
	if lines != n {
		t.Fatalf("%d JSON lines, want %d", lines, n)
	}
}

// The text goes to one writer, the progress to another, never mixed.
func TestRunKeepsProgressOutOfStdout(t *testing.T) {
	m := loadStories(t)
	size := func() (int, int, error) { return 200, 40, nil }
	reporters := map[string]func(*bytes.Buffer) Reporter{
		"line":       func(b *bytes.Buffer) Reporter { return NewLineReporter(b) },
		"tty":        func(b *bytes.Buffer) Reporter { return NewTTYReporter(b, size, false) },
		"tty-bottom": func(b *bytes.Buffer) Reporter { return NewTTYReporter(b, size, true) },
	}
	for name, mk := range reporters {
		t.Run(name, func(t *testing.T) {
			s := newSession(t, m, session.Options{Policy: h2o.Config{Policy: h2o.Window, Budget: 40}})
			var stdout, stderr bytes.Buffer
			rep := mk(&stderr)
			res, err := Run(context.Background(), s, m, testTurns[:3], Config{
				MaxGenLen: 20, Budget: 40, EvictForSpace: true, Text: &stdout, Progress: rep,
				Refresh: time.Nanosecond, // a live update after every token
				Memory:  MemorySampler(false),
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := rep.Close(); err != nil {
				t.Fatal(err)
			}
			out := stdout.String()
			for _, bad := range []string{"\r", "\x1b", "seen ", "cache ", "t/s", "sample "} {
				if strings.Contains(out, bad) {
					t.Fatalf("progress %q leaked into stdout:\n%q", bad, out)
				}
			}
			for _, bad := range []string{"USER:", "ASSISTANT:"} {
				if strings.Contains(stderr.String(), bad) {
					t.Fatalf("text %q leaked into stderr:\n%q", bad, stderr.String())
				}
			}
			if !strings.Contains(stderr.String(), "cache ") {
				t.Fatalf("no progress on stderr: %q", stderr.String())
			}
			// stdout is the recipe's transcript: "\n" + prompt, the words, "\n" per turn
			rest := out
			for i, turn := range testTurns[:3] {
				head := "\n" + Prompt(turn.Text)
				if !strings.HasPrefix(rest, head) {
					t.Fatalf("turn %d: transcript does not continue with %q:\n%q", i, head, rest)
				}
				rest = rest[len(head):]
				nl := strings.Index(rest, "\n\nUSER: ")
				if i == 2 {
					nl = len(rest) - 1
				}
				if nl < 0 || rest[nl] != '\n' || res.Records[i].GenTokens > 0 && strings.TrimSpace(rest[:nl]) == "" {
					t.Fatalf("turn %d: no answer line in %q", i, rest)
				}
				rest = rest[nl+1:]
			}
			if rest != "" {
				t.Fatalf("trailing output %q", rest)
			}
		})
	}
}

// The full cache grows until the context is full: the run stops with
// ErrContextFull, says where and after how many tokens, and records the sample.
func TestRunFullStopsWhenContextFull(t *testing.T) {
	m := loadStories(t)
	s := newSession(t, m, session.Options{Policy: h2o.Config{Policy: h2o.Full}, NCtx: 256})
	var stats bytes.Buffer
	res, err := Run(context.Background(), s, m, testTurns, Config{
		MaxGenLen: 100, Loops: 3, Budget: s.Context().NCtx(), EvictForSpace: false, Stats: &stats,
	})
	var se *StopError
	if !errors.Is(err, session.ErrContextFull) || !errors.As(err, &se) {
		t.Fatalf("want a StopError wrapping ErrContextFull, got %v", err)
	}
	last := res.Records[len(res.Records)-1]
	if last.Finish != "error" || last.Error == "" || se.Record.Sample != last.Sample || last.Sample >= res.Total {
		t.Fatalf("last record %+v", last)
	}
	if last.Seen > 256 || last.Seen < 200 || last.Evictions != 0 {
		t.Fatalf("stopped after %d tokens with %d evictions", last.Seen, last.Evictions)
	}
	if !strings.Contains(err.Error(), "tokens in total") || !strings.Contains(err.Error(), "context full") {
		t.Fatalf("message: %v", err)
	}
	if n := strings.Count(stats.String(), "\n"); n != len(res.Records) {
		t.Fatalf("%d stats lines for %d records", n, len(res.Records))
	}
}

// A cancelled run (Ctrl-C) stops at once and says so.
func TestRunInterrupted(t *testing.T) {
	m := loadStories(t)
	s := newSession(t, m, session.Options{Policy: h2o.Config{Policy: h2o.Window, Budget: 32}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Run(ctx, s, m, testTurns, Config{MaxGenLen: 10, Budget: 32})
	if !errors.Is(err, context.Canceled) || len(res.Records) != 1 || res.Records[0].Finish != "interrupted" {
		t.Fatalf("err %v, records %+v", err, res.Records)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	if _, err := Run(context.Background(), nil, nil, testTurns, Config{MaxGenLen: 0}); err == nil {
		t.Fatal("max-gen-len 0 accepted")
	}
	if _, err := Run(context.Background(), nil, nil, nil, Config{MaxGenLen: 1}); err == nil {
		t.Fatal("no turns accepted")
	}
}
