package summarize

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sampleLine(t *testing.T, i int) *Line {
	t.Helper()
	r, err := ParseRecord([]byte(strings.Replace(goodLine, "A cat sat.", `A <cat> & \"dog\" sat é.`, 1)), "in.jsonl", i+1)
	if err != nil {
		t.Fatal(err)
	}
	var req bytes.Buffer
	json.Compact(&req, r.Raw) // as Encode writes it, so lines compare equal after a round trip
	return &Line{
		Request: req.Bytes(),
		Result: Result{
			Choices: []Choice{{
				Text:         " The cat sat.\n",
				Logprobs:     Logprobs{Tokens: []string{" The", " cat", " sat", ".\n"}, TokenLogprobs: []float64{-0.5, -1.25, -0.125, -2}, TopLogprobs: []map[string]float64{{" The": -0.5}, {" cat": -1.25}, {" sat": -0.125}, {".": -1}}, TextOffset: []int{0, 4, 8, 12}},
				FinishReason: "stop",
			}},
			RequestTime: RequestTime{BatchTime: 0.25, BatchSize: 1},
		},
		H2O: Meta{Index: i, Line: i + 1, Model: "m.gguf", Policy: "h2o B=64 H=32 R=32", Run: "h2o B=64", Seed: 42 + uint64(i),
			Rouge:        &RougeF{Rouge1: PRF{F: 0.5, P: 0.4, R: 2.0 / 3}},
			PromptTokens: 100, GenTokens: 4, Cache: CacheStats{Used: 64, Cells: 512, Seen: 104, Evictions: 40}},
	}
}

// A line survives encoding and decoding unchanged, with the recipe's keys.
func TestLineRoundTrip(t *testing.T) {
	l := sampleLine(t, 0)
	b, err := l.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(b, []byte("\n")) != 1 || b[len(b)-1] != '\n' {
		t.Fatalf("not one JSONL line: %q", b)
	}
	got, err := DecodeLine(b)
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	json.Compact(&compact, l.Request)
	if !bytes.Equal(got.Request, compact.Bytes()) {
		t.Fatalf("request changed: %s", got.Request)
	}
	got.Request = l.Request
	if !reflect.DeepEqual(&got, l) {
		t.Fatalf("round trip changed the line:\n got %+v\nwant %+v", got, *l)
	}
	// The request is the input record verbatim (white space aside), HTML unescaped.
	if !bytes.Contains(b, compact.Bytes()) || !bytes.Contains(b, []byte(`A <cat> & \"dog\" sat é.`)) {
		t.Fatalf("request not kept verbatim: %s", b)
	}
	var generic map[string]map[string]any
	json.Unmarshal(b, &generic)
	choice := generic["result"]["choices"].([]any)[0].(map[string]any)
	for _, k := range []string{"text", "logprobs", "finish_reason"} {
		if _, ok := choice[k]; !ok {
			t.Errorf("choice lacks %q", k)
		}
	}
	for _, k := range []string{"tokens", "token_logprobs", "top_logprobs", "text_offset"} {
		if _, ok := choice["logprobs"].(map[string]any)[k]; !ok {
			t.Errorf("logprobs lack %q", k)
		}
	}
	if _, ok := generic["result"]["request_time"].(map[string]any)["batch_size"]; !ok {
		t.Error("request_time lacks batch_size")
	}
}

// Lines written by the Writer are read back by Open(resume) in order.
func TestWriterRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	w, done, err := Open(path, false)
	if err != nil || done != nil {
		t.Fatal(err, done)
	}
	var want []Line
	for i := range 3 {
		l := sampleLine(t, i)
		if err := w.Write(l); err != nil {
			t.Fatal(err)
		}
		want = append(want, *l)
	}
	w.Close()
	w, done, err = Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if !reflect.DeepEqual(done, want) {
		t.Fatalf("read back %d lines, differing from the %d written", len(done), len(want))
	}
}

func TestFinite(t *testing.T) {
	if finite(math.Inf(-1)) != -math.MaxFloat64 || finite(math.NaN()) != 0 || finite(-1.5) != -1.5 {
		t.Fatal("finite")
	}
}

// Without --resume an existing output is replaced, as the recipe's 'w' does.
func TestOpenOverwrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	os.WriteFile(path, []byte("old\n"), 0o644)
	w, _, err := Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Fatalf("old content kept: %q", b)
	}
}
