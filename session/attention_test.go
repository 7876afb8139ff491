package session

import (
	"math"
	"strings"
	"testing"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/internal/testutil"
)

// A prompt's attention: every query's softmax sums to one per query head,
// so each head's row over the prompt adds up to the number of queries (times
// the query heads of a KV head's group); decoding in chunks gives what one
// decode gives (attention is causal); and an h2o tracker fed the same
// prompt holds exactly the scores AttendPrompt reports.
func TestAttendPrompt(t *testing.T) {
	m := loadModel(t, testutil.Stories260K(t))
	info := m.Info()
	toks, _ := m.Tokenize(strings.Repeat("Once upon a time, there was a little girl named Lily. ", 3), true, false)
	n := len(toks)
	attend := func(o Options) (PromptAttention, *Session) {
		t.Helper()
		o.TypeK, o.TypeV = "f32", "f32"
		s := newSession(t, m, o)
		pa, err := s.AttendPrompt(toks)
		if err != nil {
			t.Fatal(err)
		}
		if len(pa.Tokens) != n || s.CacheLen() != n || s.Logits() == nil {
			t.Fatalf("%d tokens reported, %d cached, logits %v", len(pa.Tokens), s.CacheLen(), s.Logits() != nil)
		}
		return pa, s
	}
	full := h2o.Config{Policy: h2o.Full}
	for _, tc := range []struct {
		mode  binding.ScoresMode
		heads int
		group int
	}{{binding.ScoresKVHead, info.NHeadKV, info.NHead / info.NHeadKV}, {binding.ScoresQueryHead, info.NHead, 1}} {
		one, _ := attend(Options{Policy: full, Chunk: n, NCtx: n, Scores: tc.mode})
		if one.NLayer != info.NLayer || one.NHead != tc.heads || one.Aggregate != h2o.AggSum {
			t.Fatalf("%v: %d layers x %d heads by %s", tc.mode, one.NLayer, one.NHead, one.Aggregate)
		}
		for r := 0; r < one.NLayer*one.NHead; r++ {
			sum := 0.0
			for _, ta := range one.Tokens {
				sum += ta.PerHead[r]
			}
			if want := float64(n * tc.group); math.Abs(sum-want) > 1e-3*want {
				t.Fatalf("%v row %d: attention sums to %g, want %g", tc.mode, r, sum, want)
			}
		}
		for i, ta := range one.Tokens {
			total := 0.0
			for l, v := range ta.PerLayer {
				layer := 0.0
				for _, x := range ta.PerHead[l*one.NHead : (l+1)*one.NHead] {
					layer += x
				}
				if math.Abs(v-layer) > 1e-9 {
					t.Fatalf("token %d layer %d: %g, its heads sum to %g", i, l, v, layer)
				}
				total += v
			}
			if ta.Token != toks[i] || ta.Pos != int32(i) || math.Abs(ta.Score-total) > 1e-9*total {
				t.Fatalf("token %d: %+v, layers sum to %g", i, ta, total)
			}
		}
		chunked, _ := attend(Options{Policy: full, Chunk: 8, NCtx: n, Scores: tc.mode})
		for i := range one.Tokens {
			if d := math.Abs(chunked.Tokens[i].Score - one.Tokens[i].Score); d > 1e-4*one.Tokens[i].Score {
				t.Fatalf("%v token %d: %g in chunks of 8, %g in one decode", tc.mode, i, chunked.Tokens[i].Score, one.Tokens[i].Score)
			}
		}
	}
	pa, s := attend(Options{Policy: h2o.Config{Policy: h2o.H2O, Budget: 256, HeavyHitters: -1}, Chunk: 16, Scores: binding.ScoresKVHead})
	for i, e := range s.Tracker().Entries() {
		if math.Abs(e.Score-pa.Tokens[i].Score) > 1e-9*e.Score {
			t.Fatalf("token %d: tracker score %g, reported %g", i, e.Score, pa.Tokens[i].Score)
		}
	}
	if _, err := s.AttendPrompt(toks); err == nil {
		t.Fatal("a prompt into a full cache: no error")
	}
	if _, err := newSession(t, m, Options{Policy: full, Scores: binding.ScoresLayer}).AttendPrompt(toks); err == nil {
		t.Fatal("layer scores accepted")
	}
}
