package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/internal/logprob"
	"github.com/h2o-kv/h2o/internal/testmodel"
	"github.com/h2o-kv/h2o/session"
)

// storiesDir holds twelve short children's stories (written for these
// tests, about 430 stories260K tokens each); joined they make about 5,200.
const storiesDir = "testdata/stories"

func loadModel(t testing.TB) *binding.Model { return testmodel.Stories(t) }

// storyDocs tokenises the joined test stories, cut at maxTokens.
func storyDocs(t testing.TB, m *binding.Model, maxTokens int) []Doc {
	t.Helper()
	in, err := ReadInputs([]string{storiesDir}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(in) != 12 {
		t.Fatalf("%d stories, want 12", len(in))
	}
	docs, _, err := Tokenize(m, []Input{Concat(in)}, TokenizeOptions{MaxTokens: maxTokens})
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// tiny models: one thread beats the thread pool; flash attention off as h2o needs.
var tinySession = session.Options{Threads: 1, FlashAttn: "off", Chunk: 32}

func run(t testing.TB, m *binding.Model, docs []Doc, o Options) []Result {
	t.Helper()
	if o.Session.Threads == 0 {
		o.Session = tinySession
	}
	res, err := Run(m, docs, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Under a budget at least the sequence length nothing is evicted, so every
// policy reads the text exactly as the full cache: the same NLL sum, bit for bit.
func TestUnderBudgetEqualsFull(t *testing.T) {
	m := loadModel(t)
	docs := storyDocs(t, m, 120)
	runs := []h2o.Config{
		{Policy: h2o.Full},
		{Policy: h2o.H2O, Budget: 128, HeavyHitters: 64},
		{Policy: h2o.Window, Budget: 128},
		{Policy: h2o.Sink, Budget: 128},
	}
	for _, rolling := range []bool{false, true} {
		rs := append([]h2o.Config(nil), runs...)
		for i := 1; i < len(rs); i++ {
			rs[i].Rolling = rolling
		}
		so := tinySession
		so.TypeK = "f16" // rolling would pick f32 keys; without evictions there is nothing to re-rotate
		res := run(t, m, docs, Options{Runs: rs, Session: so, KL: true})
		full := res[0]
		if full.Tokens != 118 {
			t.Fatalf("scored %d tokens, want 118 (120 minus BOS and the first token)", full.Tokens)
		}
		for _, r := range res[1:] {
			if r.NLL != full.NLL {
				t.Errorf("rolling %v: %s NLL %.17g != full %.17g", rolling, r.Config, r.NLL, full.NLL)
			}
			if r.Evictions != 0 {
				t.Errorf("%s evicted %d tokens under its budget", r.Config, r.Evictions)
			}
			if kl, _ := r.KL(); kl != 0 {
				t.Errorf("%s: KL %g, want 0", r.Config, kl)
			}
		}
	}
}

// KL of a full cache against another full cache is 0 and top-1 agreement is 1.
func TestFullVersusFull(t *testing.T) {
	m := loadModel(t)
	docs := storyDocs(t, m, 100)
	res := run(t, m, docs, Options{Runs: []h2o.Config{{Policy: h2o.Full}, {Policy: h2o.Full}}, KL: true})
	for i, r := range res {
		kl, ok := r.KL()
		top1, _ := r.Top1()
		if !ok || kl != 0 || top1 != 1 || r.KLTokens != r.Tokens {
			t.Errorf("run %d: KL %g (ok %v), top-1 %g over %d of %d tokens; want 0, 1 over all", i, kl, ok, top1, r.KLTokens, r.Tokens)
		}
	}
	if !res[0].Reference || res[1].Reference {
		t.Errorf("the first full run should be the reference: %v %v", res[0].Reference, res[1].Reference)
	}
	if p := res[0].PPL(); !(p > 1 && p < 20) {
		t.Errorf("stories260K perplexity on a simple story = %g, want a small number above 1", p)
	}
}

// A tiny budget evicts: KL grows, top-1 drops, and a reference session is
// added when no full run is asked for.
func TestEvictionDiverges(t *testing.T) {
	m := loadModel(t)
	docs := storyDocs(t, m, 200)
	res := run(t, m, docs, Options{Runs: []h2o.Config{{Policy: h2o.H2O, Budget: 16, HeavyHitters: 8, Rolling: true}}, KL: true})
	if len(res) != 1 {
		t.Fatalf("%d results for one run (the added reference must not be reported)", len(res))
	}
	r := res[0]
	kl, _ := r.KL()
	top1, _ := r.Top1()
	if r.Evictions == 0 || kl <= 0.001 || top1 >= 1 || top1 < 0.3 {
		t.Fatalf("h2o B=16: %d evictions, KL %g, top-1 %g: want evictions, KL > 0, 0.3 <= top-1 < 1", r.Evictions, kl, top1)
	}
	if noKL := run(t, m, docs, Options{Runs: []h2o.Config{r.Config.Request()}}); noKL[0].KLTokens != 0 || noKL[0].NLL != r.NLL {
		t.Fatalf("without KL: %d KL tokens, NLL %g (with KL %g): the reference must not change the run", noKL[0].KLTokens, noKL[0].NLL, r.NLL)
	}
}

// Decoding sessions in parallel gives the same numbers as one after another.
func TestParallelEqualsSerial(t *testing.T) {
	m := loadModel(t)
	docs := storyDocs(t, m, 150)
	runs := []h2o.Config{{Policy: h2o.Full}, {Policy: h2o.H2O, Budget: 32, HeavyHitters: 16}, {Policy: h2o.Sink, Budget: 32}}
	a := run(t, m, docs, Options{Runs: runs, KL: true})
	b := run(t, m, docs, Options{Runs: runs, KL: true, Parallel: 2})
	for i := range a {
		if a[i].NLL != b[i].NLL || a[i].KLSum != b[i].KLSum || a[i].Top1Agree != b[i].Top1Agree {
			t.Errorf("%s: serial NLL %g KL %g top-1 %d, parallel %g %g %d", a[i].Config, a[i].NLL, a[i].KLSum, a[i].Top1Agree, b[i].NLL, b[i].KLSum, b[i].Top1Agree)
		}
	}
}

// Past the trained context (512) KL only covers the predictions within it,
// chunks add up to the total, and two documents are read independently.
func TestChunksAndTrainedContext(t *testing.T) {
	m := loadModel(t)
	docs := storyDocs(t, m, 600)
	two := []Doc{docs[0], docs[0]}
	res := run(t, m, two, Options{Runs: []h2o.Config{{Policy: h2o.Full}, {Policy: h2o.Window, Budget: 64, Rolling: true}}, KL: true, ChunkSize: 256})
	for _, r := range res {
		if r.Docs != 2 || r.Tokens != 2*598 {
			t.Fatalf("%s: %d docs, %d tokens; want 2, %d", r.Config, r.Docs, r.Tokens, 2*598)
		}
		if r.KLTokens != 2*511 {
			t.Errorf("%s: KL over %d predictions, want %d (token indices 2..512 of each document)", r.Config, r.KLTokens, 2*511)
		}
		if len(r.Chunks) != 3 {
			t.Fatalf("%s: %d chunks of 256 for 600 tokens, want 3", r.Config, len(r.Chunks))
		}
		n, nll := 0, 0.0
		for _, c := range r.Chunks {
			n += c.Tokens
			nll += c.NLL
		}
		if n != r.Tokens || math.Abs(nll-r.NLL) > 1e-9*math.Abs(r.NLL) {
			t.Errorf("%s: chunks hold %d tokens, NLL %g; total %d, %g", r.Config, n, nll, r.Tokens, r.NLL)
		}
	}
	// the same document twice: the second read must start from an empty cache
	one := run(t, m, docs, Options{Runs: []h2o.Config{{Policy: h2o.Full}}})
	if math.Abs(2*one[0].NLL-res[0].NLL) > 1e-9*res[0].NLL {
		t.Errorf("two copies: NLL %g, want twice %g (Reset between documents)", res[0].NLL, one[0].NLL)
	}
}

// -o json: one record per (policy, budget), the full cache repeated per budget.
func TestJSONRecords(t *testing.T) {
	m := loadModel(t)
	docs := storyDocs(t, m, 80)
	budgets := []int{16, 32}
	var runs []h2o.Config
	runs = append(runs, h2o.Config{Policy: h2o.Full})
	for _, p := range []h2o.Policy{h2o.H2O, h2o.Window, h2o.Sink} {
		for _, b := range budgets {
			cfg := h2o.Config{Policy: p, Budget: b, Rolling: true}
			if p == h2o.H2O {
				cfg.HeavyHitters = h2o.HalfBudget
			}
			runs = append(runs, cfg)
		}
	}
	res := run(t, m, docs, Options{Runs: runs, KL: true})
	var buf bytes.Buffer
	if err := WriteJSON(&buf, Records(res, budgets)); err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &recs); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, buf.String())
	}
	if len(recs) != 4*len(budgets) {
		t.Fatalf("%d records, want %d (4 policies x %d budgets)", len(recs), 4*len(budgets), len(budgets))
	}
	seen := map[string]bool{}
	for _, r := range recs {
		for _, k := range []string{"policy", "budget", "heavy", "rolling", "score", "aggregate", "tokens", "ppl", "kl", "top1"} {
			if _, ok := r[k]; !ok {
				t.Fatalf("record without %q: %v", k, r)
			}
		}
		key := fmt.Sprintf("%s/%v", r["policy"], r["budget"])
		if seen[key] {
			t.Errorf("duplicate record %s", key)
		}
		seen[key] = true
		if r["tokens"].(float64) != 78 || r["ppl"].(float64) <= 1 {
			t.Errorf("%s: tokens %v ppl %v", key, r["tokens"], r["ppl"])
		}
		if r["policy"] == "h2o" && r["heavy"].(float64) != r["budget"].(float64)/2 {
			t.Errorf("%s: heavy %v, want half the budget", key, r["heavy"])
		}
	}
	for _, k := range []string{"full/16", "full/32", "h2o/16", "window/32", "sink/16"} {
		if !seen[k] {
			t.Errorf("no record %s", k)
		}
	}

	var md bytes.Buffer
	if err := WriteMarkdown(&md, Records(res, budgets), Meta{Model: "stories260K", Trained: 512, Docs: docs}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(md.String(), "| full |"); n != 1 {
		t.Errorf("markdown lists the full cache %d times, want once:\n%s", n, md.String())
	}
	if n := strings.Count(md.String(), "\n| "); n != 1+1+6 {
		t.Errorf("markdown has %d table lines, want header + full + 6:\n%s", n, md.String())
	}
}

// A missing path, an empty directory or a file with no tokens are errors.
func TestEmptyOrMissingInput(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadInputs([]string{filepath.Join(dir, "nope.txt")}, 0); err == nil {
		t.Error("missing file accepted")
	}
	if _, err := ReadInputs(nil, 0); !errors.Is(err, ErrNoInput) {
		t.Errorf("no paths: %v, want ErrNoInput", err)
	}
	if _, err := ReadInputs([]string{dir}, 0); !errors.Is(err, ErrNoInput) {
		t.Errorf("empty directory: %v, want ErrNoInput", err)
	}
	empty := filepath.Join(dir, "0empty.txt") // sorts first: --docs counts only documents kept
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := ReadInputs([]string{empty}, 0)
	if err != nil {
		t.Fatal(err)
	}
	m := loadModel(t)
	if _, _, err := Tokenize(m, in, TokenizeOptions{}); !errors.Is(err, ErrNoInput) {
		t.Errorf("empty file: %v, want ErrNoInput", err)
	}
	if _, err := Run(m, []Doc{{Name: "x", Tokens: []int32{1}, Prefix: 1}}, Options{Runs: []h2o.Config{{Policy: h2o.Full}}, Session: tinySession}); !errors.Is(err, ErrNoInput) {
		t.Errorf("a document with nothing to score: %v, want ErrNoInput", err)
	}
	// --docs and --min-tokens
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("Once upon a time there was a cat."), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err = ReadInputs([]string{dir}, 0)
	if err != nil || len(in) != 2 {
		t.Fatalf("directory: %d inputs, %v; want 0empty.txt and a.txt", len(in), err)
	}
	docs, skipped, err := Tokenize(m, in, TokenizeOptions{MaxDocs: 1})
	if err != nil || len(docs) != 1 || len(skipped) != 1 || !strings.HasSuffix(docs[0].Name, "a.txt") {
		t.Fatalf("docs %v skipped %v err %v", docs, skipped, err)
	}
	if _, _, err := Tokenize(m, in, TokenizeOptions{MinTokens: 1000}); !errors.Is(err, ErrNoInput) {
		t.Errorf("min tokens above every document: %v, want ErrNoInput", err)
	}
}

func TestLogProbs(t *testing.T) {
	l := []float32{1, 3, -2, 3}
	z, _ := logprob.LogSumExp(l)
	p := probs(l, z, nil)
	if got := kl(p, l, z, l, z); got != 0 {
		t.Errorf("KL(P||P) = %g", got)
	}
	// P = (1/2, 1/2), Q = (1/4, 3/4): KL = 1/2 ln 2 + 1/2 ln(2/3)
	lp, lq := []float32{0, 0}, []float32{0, float32(math.Log(3))}
	zp, _ := logprob.LogSumExp(lp)
	zq, _ := logprob.LogSumExp(lq)
	got := kl(probs(lp, zp, nil), lp, zp, lq, zq)
	if w := 0.5*math.Log(2) + 0.5*math.Log(2.0/3); math.Abs(got-w) > 1e-7 {
		t.Errorf("KL = %g, want %g", got, w)
	}
}

// A decode that fails in llama.cpp, with sessions decoding in parallel,
// reports the run, the document and llama.cpp's reason (a *binding.Error).
func TestDecodeErrorNamesRun(t *testing.T) {
	m := loadModel(t)
	bad := int32(m.Info().NVocab + 7)
	docs := []Doc{{Name: "bad.txt", Tokens: []int32{1, bad, 5, 6}, Prefix: 2}} // fails in the prompt
	runs := []h2o.Config{{Policy: h2o.Window, Budget: 32}, {Policy: h2o.Sink, Budget: 32}}
	_, err := Run(m, docs, Options{Runs: runs, Session: tinySession, Parallel: 2})
	if err == nil {
		t.Fatal("a document with an invalid token evaluated")
	}
	if want := "eval: window B=32 on bad.txt at token 2: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %q, want it to start %q", err, want)
	}
	var e *binding.Error
	if !errors.As(err, &e) || e.Op != "decode" || !strings.Contains(e.Detail, fmt.Sprintf("invalid token[1] = %d", bad)) {
		t.Errorf("err = %v, want a decode *binding.Error naming token %d", err, bad)
	}
}

// Closing Done stops the evaluation after the current position: the results
// cover exactly the positions scored until then and equal an evaluation of
// the text cut there.
func TestInterruptKeepsWhatWasScored(t *testing.T) {
	m := loadModel(t)
	docs := storyDocs(t, m, 120)
	done := make(chan struct{})
	n := 0
	o := Options{Runs: []h2o.Config{{Policy: h2o.Full}, {Policy: h2o.Window, Budget: 16}}, KL: true, Session: tinySession, Done: done,
		Progress: func(int, int) {
			if n++; n == 50 {
				close(done)
			}
		}}
	got, err := Run(m, docs, o)
	if !errors.Is(err, session.ErrInterrupted) || len(got) != 2 {
		t.Fatalf("%d results, %v; want 2 and ErrInterrupted", len(got), err)
	}
	cut := Covered(docs, 50)
	if len(cut) != 1 || cut[0].Scored() != 50 {
		t.Fatalf("covered: %d docs, want one with 50 positions", len(cut))
	}
	o.Done, o.Progress = nil, nil
	want := run(t, m, cut, o)
	for i := range got {
		if got[i].Tokens != 50 || got[i].NLL != want[i].NLL || got[i].KLSum != want[i].KLSum {
			t.Errorf("run %d: %d tokens, NLL %v KL %v; want 50, %v %v", i, got[i].Tokens, got[i].NLL, got[i].KLSum, want[i].NLL, want[i].KLSum)
		}
	}
}

// Binary files are refused by name, not scored as text; a multi-byte rune
// cut by the sniffed prefix is not binary.
func TestBinaryInputRefused(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{"nul.bin": []byte("abc\x00def"), "latin1.txt": []byte("caf\xe9 au lait")} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadInputs([]string{p}, 0); err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "not text") {
			t.Errorf("%s: %v, want a 'not text' error naming it", name, err)
		}
	}
	long := append(bytes.Repeat([]byte("a"), 64<<10-1), "é and more"...)
	if err := checkText(long); err != nil {
		t.Errorf("a rune across the 64 KiB mark: %v", err)
	}
}
