package summarize

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/internal/testmodel"
	"github.com/h2o-kv/h2o/session"
)

var stories = []string{
	"Tom had a red ball. He played with it in the park every day. One day the ball rolled into the pond and a duck pushed it back to him.",
	"Lily wanted to bake a cake for her mom. She mixed flour, eggs and sugar. The cake was a little burnt but her mom loved it.",
	"A small dog found a big bone in the garden. He dug a hole to hide it. Later he forgot where the hole was and dug up all the flowers.",
	"Sam and Mia built a tall tower of blocks. The cat jumped on the table and the tower fell. They laughed and built it again, even taller.",
	"The sun was hot, so Ben went to the sea. He swam with a fish and found a shiny shell. He gave the shell to his sister.",
}

// writeRequests writes the records in the recipe's format with a short max_tokens.
func writeRequests(t *testing.T, articles []string, maxTokens int) string {
	t.Helper()
	var b strings.Builder
	for _, a := range articles {
		line, _ := json.Marshal(map[string]any{
			"article":    "###\nArticle: " + a + "\n\nSummarize the above article in 1 sentence.\n",
			"summary_gt": strings.SplitAfter(a, ".")[0], "logprobs": 1, "max_tokens": maxTokens, "n": 1,
			"stop": []string{"###"}, "temperature": 0.3, "top_p": 1,
		})
		b.Write(line)
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "req.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func loadStories(t *testing.T) *binding.Model { return testmodel.Stories(t) }

func newSession(t *testing.T, m *binding.Model, cfg h2o.Config, nctx int) *session.Session {
	t.Helper()
	s, err := session.New(m, session.Options{Policy: cfg, Chunk: 16, NCtx: nctx, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var h2o32 = h2o.Config{Policy: h2o.H2O, Budget: 32, HeavyHitters: -1}

func readRequests(t *testing.T, path string) []Record {
	t.Helper()
	recs, _, err := ReadRecords(path, false)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// outputLines reads an output with the timings, which differ run to run, zeroed.
func outputLines(t *testing.T, path string) []Line {
	t.Helper()
	done, _, err := readDone(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range done {
		done[i].Result.RequestTime.BatchTime = 0
		done[i].H2O.Timing = Timing{}
	}
	return done
}

// A run interrupted mid-write and resumed writes the same samples as an
// uninterrupted run: the sampled tokens (seed + index), texts and scores.
func TestResumeEqualsUninterrupted(t *testing.T) {
	m := loadStories(t)
	recs := readRequests(t, writeRequests(t, stories, 10))
	dir := t.TempDir()
	whole, parts := filepath.Join(dir, "whole.jsonl"), filepath.Join(dir, "parts.jsonl")
	o := Options{Seed: 42, OnEmpty: EmptyZero, TopLogprobs: 2}

	o.OutputPath = whole
	want, err := Evaluate(newSession(t, m, h2o32, 0), recs, 4, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.OutputPath = parts
	if _, err := Evaluate(newSession(t, m, h2o32, 0), recs, 2, o, nil); err != nil {
		t.Fatal(err)
	}
	simulateCrash(t, whole, parts)

	o.Resume = true
	got, err := Evaluate(newSession(t, m, h2o32, 0), recs, 4, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Resumed != 2 || got.Samples != 4 || got.Avg.Final() != want.Avg.Final() {
		t.Fatalf("resumed %d of %d: %s, want %s", got.Resumed, got.Samples, got.Avg.Final(), want.Avg.Final())
	}
	a, b := outputLines(t, whole), outputLines(t, parts)
	if len(a) != 4 || !reflect.DeepEqual(a, b) {
		t.Fatalf("resumed output differs from the uninterrupted one:\n%+v\n%+v", a, b)
	}
	if a[3].H2O.Seed != 45 || a[0].H2O.Cache.Evictions == 0 {
		t.Fatalf("seed %d, evictions %d", a[3].H2O.Seed, a[0].H2O.Cache.Evictions)
	}
	// Resuming a finished run does nothing.
	if again, err := Evaluate(newSession(t, m, h2o32, 0), recs, 4, o, nil); err != nil || again.Resumed != 4 {
		t.Fatalf("%v, resumed %d", err, again.Resumed)
	}
}

// simulateCrash appends half of the uninterrupted run's third line to parts.
func simulateCrash(t *testing.T, whole, parts string) {
	t.Helper()
	b, _ := os.ReadFile(whole)
	third := strings.SplitAfter(string(b), "\n")[2]
	f, err := os.OpenFile(parts, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(third[:len(third)/2])
	f.Close()
}

// Greedy decoding (--temperature 0) does not depend on the seed.
func TestGreedyOverride(t *testing.T) {
	m := loadStories(t)
	recs := readRequests(t, writeRequests(t, stories[:2], 8))
	zero := 0.0
	texts := func(seed int64) []string {
		var out []string
		obs := observer(func(l *Line) { out = append(out, l.Result.Choices[0].Text) })
		if _, err := Evaluate(newSession(t, m, h2o32, 0), recs, 2, Options{Seed: seed, Temperature: &zero}, obs); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if a, b := texts(1), texts(999); !reflect.DeepEqual(a, b) {
		t.Fatalf("greedy texts depend on the seed: %q vs %q", a, b)
	}
}

type observer func(l *Line)

func (o observer) Start(total, done int)       {}
func (o observer) Sample(l *Line, _ *Averages) { o(l) }

// An article longer than a full cache is an error naming the sample, unless
// truncation is asked for; h2o's chunked prefill takes it whole.
func TestLongArticle(t *testing.T) {
	m := loadStories(t)
	long := strings.Repeat("The cat sat on the mat and looked at the big red sun. ", 40)
	recs := readRequests(t, writeRequests(t, []string{stories[0], long}, 8))
	full := h2o.Config{Policy: h2o.Full}

	_, err := Evaluate(newSession(t, m, full, 256), recs, 2, Options{}, nil)
	if err == nil || !strings.Contains(err.Error(), "sample 1 ("+recs[1].Where()+")") || !strings.Contains(err.Error(), "--truncate") {
		t.Fatalf("got %v", err)
	}
	var last *Line
	sum, err := Evaluate(newSession(t, m, full, 256), recs, 2, Options{Truncate: true}, observer(func(l *Line) { last = l }))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Truncated != 1 || last.H2O.PromptTokens != 256-8 || last.H2O.Truncated == 0 {
		t.Fatalf("truncated %d, prompt %d tokens, %d dropped", sum.Truncated, last.H2O.PromptTokens, last.H2O.Truncated)
	}
	sum, err = Evaluate(newSession(t, m, h2o32, 0), recs, 2, Options{}, observer(func(l *Line) { last = l }))
	if err != nil || sum.Truncated != 0 || last.H2O.PromptTokens < 256 || last.H2O.Cache.Used > 32 {
		t.Fatalf("h2o: %v, prompt %d tokens, cache %d", err, last.H2O.PromptTokens, last.H2O.Cache.Used)
	}
}

// K-shot prompts take the last records of the file, never the sample.
func TestShotsRecorded(t *testing.T) {
	m := loadStories(t)
	recs := readRequests(t, writeRequests(t, stories, 4))
	var lines []*Line
	_, err := Evaluate(newSession(t, m, h2o32, 0), recs, 5, Options{Shots: 2}, observer(func(l *Line) { lines = append(lines, l) }))
	if err != nil {
		t.Fatal(err)
	}
	if got := lines[0].H2O.Shots; !reflect.DeepEqual(got, []int{5, 4}) {
		t.Fatalf("sample 0 shots at lines %v, want [5 4]", got)
	}
	if got := lines[4].H2O.Shots; !reflect.DeepEqual(got, []int{4, 3}) {
		t.Fatalf("sample 4 (line 5) shots at lines %v, want [4 3]", got)
	}
}

// Batched greedy summaries equal sequential ones, line for line and in input
// order, and a batched run resumes a sequential one.
func TestBatchedEqualsSequential(t *testing.T) {
	m := loadStories(t)
	recs := readRequests(t, writeRequests(t, stories, 20))
	zero := 0.0
	dir := t.TempDir()
	// f32 caches: batched f16 kernels round differently (see session tests).
	so := session.Options{Policy: h2o32, Chunk: 16, Threads: 1, TypeK: "f32", TypeV: "f32"}
	o := Options{Seed: 7, Temperature: &zero, TopLogprobs: 2}

	s, err := session.New(m, so)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	o.OutputPath = filepath.Join(dir, "seq.jsonl")
	want, err := Evaluate(s, recs, 5, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := session.NewBatcher(m, so, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	o.OutputPath = filepath.Join(dir, "batched.jsonl")
	var order []int
	got, err := EvaluateBatched(b, recs, 5, o, observer(func(l *Line) { order = append(order, l.H2O.Index) }))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(order, []int{0, 1, 2, 3, 4}) || got.Avg.Final() != want.Avg.Final() {
		t.Fatalf("order %v, %s, want %s", order, got.Avg.Final(), want.Avg.Final())
	}
	comparable := func(path string) []Line {
		lines := outputLines(t, path)
		for i := range lines {
			lines[i].Result.RequestTime.BatchSize = 0
			lines[i].H2O.Cache = CacheStats{} // the batch skips decoding the last token
			for k, v := range lines[i].Result.Choices[0].Logprobs.TokenLogprobs {
				lines[i].Result.Choices[0].Logprobs.TokenLogprobs[k] = math.Round(v*1e3) / 1e3
			}
			lines[i].Result.Choices[0].Logprobs.TopLogprobs = nil
		}
		return lines
	}
	a, c := comparable(filepath.Join(dir, "seq.jsonl")), comparable(filepath.Join(dir, "batched.jsonl"))
	if len(a) != 5 || !reflect.DeepEqual(a, c) {
		t.Fatalf("batched output differs from the sequential one:\n%+v\n%+v", a, c)
	}
	if outputLines(t, filepath.Join(dir, "batched.jsonl"))[0].Result.RequestTime.BatchSize != 4 {
		t.Fatal("batch size not recorded")
	}

	// Resume: 2 samples sequentially, the rest batched.
	o.OutputPath = filepath.Join(dir, "mixed.jsonl")
	if _, err := Evaluate(s, recs, 2, o, nil); err != nil {
		t.Fatal(err)
	}
	o.Resume = true
	mixed, err := EvaluateBatched(b, recs, 5, o, nil)
	if err != nil || mixed.Resumed != 2 || mixed.Avg.Final() != want.Avg.Final() {
		t.Fatalf("%v: resumed %d, %s", err, mixed.Resumed, mixed.Avg.Final())
	}
	if m := comparable(o.OutputPath); !reflect.DeepEqual(a, m) {
		t.Fatalf("resumed batched output differs:\n%+v\n%+v", a, m)
	}
}

// Closing Done stops a run between samples: the output holds
// the complete samples only, and resuming gives exactly the uninterrupted
// output. A run that fails before any sample leaves no output file.
func TestInterruptThenResume(t *testing.T) {
	m := loadStories(t)
	recs := readRequests(t, writeRequests(t, stories, 10))
	dir := t.TempDir()
	whole, parts := filepath.Join(dir, "whole.jsonl"), filepath.Join(dir, "parts.jsonl")
	o := Options{Seed: 42, OnEmpty: EmptyZero, OutputPath: whole}
	if _, err := Evaluate(newSession(t, m, h2o32, 0), recs, 5, o, nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	o.OutputPath, o.Done = parts, done
	sum, err := Evaluate(newSession(t, m, h2o32, 0), recs, 5, o, observer(func(l *Line) {
		if l.H2O.Index == 1 {
			close(done) // during sample 2's wait: it is not started
		}
	}))
	if !errors.Is(err, session.ErrInterrupted) || sum.Samples != 2 || len(outputLines(t, parts)) != 2 {
		t.Fatalf("%v, %d samples; want ErrInterrupted after 2", err, sum.Samples)
	}
	o.Done, o.Resume = nil, true
	if _, err := Evaluate(newSession(t, m, h2o32, 0), recs, 5, o, nil); err != nil {
		t.Fatal(err)
	}
	if a, b := outputLines(t, whole), outputLines(t, parts); len(a) != 5 || !reflect.DeepEqual(a, b) {
		t.Fatalf("interrupted and resumed output differs from the uninterrupted one")
	}

	// stopped before the first sample: no output left behind
	stop := make(chan struct{})
	o = Options{Seed: 42, OnEmpty: EmptyZero, Done: stop}
	close(stop)
	o.OutputPath = filepath.Join(dir, "none.jsonl")
	if _, err := Evaluate(newSession(t, m, h2o32, 0), recs, 5, o, nil); !errors.Is(err, session.ErrInterrupted) {
		t.Fatalf("%v, want ErrInterrupted", err)
	}
	if _, err := os.Stat(o.OutputPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a run stopped before its first sample left its output: %v", err)
	}
}
