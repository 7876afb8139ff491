package e2e

import (
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/h2o-kv/h2o/gguf"
)

// badCase is one command line and what it must give.
type badCase struct {
	name string
	args func(f *fixtures) []string
	ok   bool   // exit 0 (a warning case); else a non-zero exit
	want string // in stderr: the message naming the problem
	// warnThenKill: a long run that must say want within the time limit;
	// it is interrupted then (the run itself is legitimate).
	warnThenKill bool
	limit        time.Duration // default 30s
	after        func(t *testing.T, f *fixtures, r result)
}

// fixtures are the files the cases use, made once.
type fixtures struct {
	stories, eval  string // the models
	text, requests string // a text file and summarize requests
	nanModel       string // stories260K with NaN token embeddings
	truncated      string // stories260K cut in half
	binary         string // a file of binary data
	badJSONL       string // requests with a malformed third line
	out            string // a directory for outputs
	resumed        string // a summarize output made with stories260K
}

func newFixtures(t *testing.T) *fixtures {
	f := &fixtures{stories: stories(t), eval: evalModel(t), out: t.TempDir()}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f.text = write("story.txt", []byte(strings.Repeat("Once upon a time there was a little cat. She liked to play in the sun. ", 4)))
	model, err := os.ReadFile(f.stories)
	if err != nil {
		t.Fatal(err)
	}
	f.truncated = write("truncated.gguf", model[:len(model)/2])
	f.nanModel = write("nan.gguf", nanEmbeddings(t, f.stories, model))
	f.binary = write("data.bin", []byte{0x7f, 'E', 'L', 'F', 0, 0, 1, 2, 0xff, 0xfe})
	req := `{"article": "###\nArticle: Tom had a red ball. He played in the park.\n\nSummarize the above article in 1 sentence.\n", "summary_gt": "Tom had a ball.", "logprobs": 1, "max_tokens": 8, "n": 1, "stop": ["###"], "temperature": 0.3, "top_p": 1}` + "\n"
	f.requests = write("req.jsonl", []byte(strings.Repeat(req, 3)))
	f.badJSONL = write("bad.jsonl", []byte(req+req+`{"article": "x", "summary_gt": 3}`+"\n"))
	return f
}

// nanEmbeddings is the model with its token embeddings set to NaN.
func nanEmbeddings(t *testing.T, path string, model []byte) []byte {
	in, err := gguf.ReadInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	emb, ok := in.Tensor("token_embd.weight")
	if !ok || emb.Type != gguf.F32 {
		t.Fatalf("stories260K has no f32 token_embd.weight")
	}
	out := append([]byte(nil), model...)
	data := out[in.DataOffset+emb.Offset:][:emb.Size]
	for i := 0; i+4 <= len(data); i += 4 {
		binary.LittleEndian.PutUint32(data[i:], math.Float32bits(float32(math.NaN())))
	}
	return out
}

func hasGPU() bool {
	_, err := exec.LookPath("nvidia-smi")
	return err == nil
}

func m(f *fixtures, args ...string) []string {
	return append([]string{args[0], "-m", f.stories}, args[1:]...)
}

var badCases = []badCase{
	// crashes
	{name: "bf16 K re-rotated in place", args: func(f *fixtures) []string {
		return m(f, "run", "-n", "300", "--budget", "32", "--k-rotation", "in-place", "-ctk", "bf16")
	}, want: "must be f32 or f16"},
	{name: "bf16 K re-rotated in place, eval model", args: func(f *fixtures) []string {
		return []string{"run", "-m", f.eval, "-n", "300", "--budget", "32", "--k-rotation", "in-place", "-ctk", "bf16"}
	}, want: "must be f32 or f16"},
	{name: "q8_0 K re-rotated in place", args: func(f *fixtures) []string {
		return m(f, "run", "-n", "300", "--budget", "32", "--k-rotation", "in-place", "-ctk", "q8_0")
	}, want: "must be f32 or f16"},
	{name: "q4_0 K re-rotated in place", args: func(f *fixtures) []string {
		return m(f, "run", "-n", "300", "--budget", "32", "--k-rotation", "in-place", "-ctk", "q4_0")
	}, want: "must be f32 or f16"},
	{name: "q4_1 K re-rotated in place", args: func(f *fixtures) []string {
		return m(f, "run", "-n", "300", "--budget", "32", "--k-rotation", "in-place", "-ctk", "q4_1")
	}, want: "must be f32 or f16"},
	{name: "q5_0 K re-rotated in place", args: func(f *fixtures) []string {
		return m(f, "run", "-n", "300", "--budget", "32", "--k-rotation", "in-place", "-ctk", "q5_0")
	}, want: "must be f32 or f16"},
	{name: "iq4_nl K re-rotated in place", args: func(f *fixtures) []string {
		return m(f, "run", "-n", "300", "--budget", "32", "--k-rotation", "in-place", "-ctk", "iq4_nl")
	}, want: "must be f32 or f16"},
	{name: "window q8_0 K re-rotated in place", args: func(f *fixtures) []string {
		return m(f, "run", "--mode", "window", "-n", "300", "--budget", "32", "--k-rotation", "in-place", "-ctk", "q8_0")
	}, want: "must be f32 or f16"},
	{name: "ppl bf16 K re-rotated in place", args: func(f *fixtures) []string {
		return m(f, "ppl", f.text, "--budgets", "16", "--policies", "h2o", "--enable_position_rolling", "--k-rotation", "in-place", "-ctk", "bf16")
	}, want: "must be f32 or f16"},
	{name: "bf16 K rotated on read runs", args: func(f *fixtures) []string { return m(f, "run", "-n", "60", "--budget", "32", "-ctk", "bf16") }, ok: true},
	{name: "q8_0 K rotated on read runs, eval model", args: func(f *fixtures) []string {
		return []string{"run", "-m", f.eval, "-t", "1", "-n", "60", "--budget", "32", "-ctk", "q8_0"}
	}, ok: true},
	{name: "bf16 K without rolling runs", args: func(f *fixtures) []string {
		return m(f, "run", "-n", "60", "--budget", "32", "-ctk", "bf16", "--enable_position_rolling=false")
	}, ok: true},
	{name: "attn negative top", args: func(f *fixtures) []string { return m(f, "attn", "-p", "Once upon", "--top", "-3") }, want: "--top -3: want 0 or more"},

	// hangs and runaway work
	{name: "run -n 0 generates nothing", args: func(f *fixtures) []string { return m(f, "run", "-n", "0", "-p", "Once upon a time") }, ok: true, limit: 10 * time.Second,
		after: func(t *testing.T, f *fixtures, r result) {
			if strings.TrimSpace(r.stdout) != "Once upon a time" || !strings.Contains(r.stderr, "generated 0 tokens") {
				t.Errorf("stdout %q, stderr %q: want the prompt alone", r.stdout, r.stderr)
			}
		}},
	{name: "run -n -2", args: func(f *fixtures) []string { return m(f, "run", "-n", "-2") }, want: "--n-predict -2: want"},
	{name: "run -t 1000 is capped", args: func(f *fixtures) []string { return m(f, "run", "-t", "1000", "-n", "20") }, ok: true, want: "using", limit: 60 * time.Second},
	{name: "bench past the trained context warns first", args: func(f *fixtures) []string {
		return m(f, "bench", "-d", "100000", "-p", "0", "-n", "4", "-r", "1", "--modes", "full")
	}, want: "past the model's trained context (512)", warnThenKill: true, limit: 8 * time.Second},
	{name: "bench full prompt past the trained context warns first", args: func(f *fixtures) []string {
		return m(f, "bench", "-p", "100000", "-n", "0", "-r", "1", "--modes", "full")
	}, want: "past the model's trained context (512)", warnThenKill: true, limit: 8 * time.Second},

	// flags after arguments, contradicting and out-of-range flags
	{name: "stray argument", args: func(f *fixtures) []string { return m(f, "run", "extra", "-n", "5") }, want: `unexpected argument "extra"`},
	{name: "ppl flags after the file", args: func(f *fixtures) []string {
		return m(f, "ppl", f.text, "--budgets", "16", "--policies", "full,h2o", "--docs", "1")
	}, ok: true, after: func(t *testing.T, f *fixtures, r result) {
		if !strings.Contains(r.stdout, "| h2o | 16 |") {
			t.Errorf("no h2o B=16 row: %s", r.stdout)
		}
	}},
	{name: "recent over the budget", args: func(f *fixtures) []string { return m(f, "run", "--recent", "500", "--budget", "64") }, want: "exceeds the budget"},
	{name: "heavy and recent not filling the budget", args: func(f *fixtures) []string {
		return m(f, "run", "--heavy", "20", "--recent", "10", "--budget", "64")
	}, want: "do not fill the budget"},
	{name: "heavy -2", args: func(f *fixtures) []string { return m(f, "run", "--heavy", "-2") }, want: "--num_heavy_hitter_tokens -2: want"},
	{name: "mode contradicts --h2o", args: func(f *fixtures) []string { return m(f, "run", "--mode", "window", "--h2o") }, want: "contradicts"},
	{name: "negative context", args: func(f *fixtures) []string { return m(f, "run", "-c", "-5") }, want: "--ctx-size -5: want"},
	{name: "negative threads", args: func(f *fixtures) []string { return m(f, "run", "-t", "-1") }, want: "--threads -1: want"},
	{name: "negative batch", args: func(f *fixtures) []string { return m(f, "run", "-b", "-8") }, want: "--batch-size -8: want"},
	{name: "negative GPU layers", args: func(f *fixtures) []string { return m(f, "run", "-ngl", "-1") }, want: "--n-gpu-layers -1: want"},
	{name: "unknown split mode", args: func(f *fixtures) []string { return m(f, "run", "-sm", "rows") }, want: "--split-mode"},
	{name: "tensor split of zeros", args: func(f *fixtures) []string { return m(f, "bench", "-ts", "0,0") }, want: "sum to 0"},
	{name: "main GPU past the GPUs", args: func(f *fixtures) []string { return m(f, "run", "-ngl", "99", "-mg", "3", "-n", "4") }, want: "main GPU 3"},
	{name: "negative temperature", args: func(f *fixtures) []string { return m(f, "run", "--temp", "-1") }, want: "--temp -1: want"},
	{name: "top-p above 1", args: func(f *fixtures) []string { return m(f, "run", "--top-p", "2") }, want: "--top-p 2: want"},
	{name: "zero budget", args: func(f *fixtures) []string { return m(f, "run", "--budget", "0") }, want: "--num_window_length 0: want"},
	{name: "bench zero repetitions", args: func(f *fixtures) []string { return m(f, "bench", "-r", "0") }, want: "--repetitions 0: want"},
	{name: "bench nothing to measure", args: func(f *fixtures) []string { return m(f, "bench", "-p", "0", "-n", "0") }, want: "nothing to measure"},
	{name: "bench csv", args: func(f *fixtures) []string { return m(f, "bench", "-o", "csv") }, want: `-o "csv": want md or json`},
	{name: "gguf random negative layers", args: func(f *fixtures) []string {
		return []string{"gguf", "random", "-o", filepath.Join(f.out, "r.gguf"), "--layers", "-3"}
	}, want: "--layers -3: want"},
	{name: "gguf random negative context", args: func(f *fixtures) []string {
		return []string{"gguf", "random", "-o", filepath.Join(f.out, "r.gguf"), "--ctx", "-5"}
	}, want: "--ctx -5: want"},
	{name: "gguf convert unknown type", args: func(f *fixtures) []string {
		return []string{"gguf", "convert", "--type", "q3_k", f.stories, filepath.Join(f.out, "c.gguf")}
	}, want: `unknown weight type "q3_k"`},
	{name: "gguf convert one argument", args: func(f *fixtures) []string {
		return []string{"gguf", "convert", "--type", "f16", f.stories}
	}, want: "want IN and OUT"},
	{name: "gguf convert truncated model", args: func(f *fixtures) []string {
		return []string{"gguf", "convert", "--type", "f16", f.truncated, filepath.Join(f.out, "c.gguf")}
	}, want: "to f16:", after: func(t *testing.T, f *fixtures, _ result) {
		if _, err := os.Stat(filepath.Join(f.out, "c.gguf")); err == nil {
			t.Error("a failed conversion left c.gguf behind")
		}
	}},
	{name: "stream zero loops", args: func(f *fixtures) []string { return m(f, "stream", "--loop", "0") }, want: "--loop 0: want"},
	{name: "summarize negative shots", args: func(f *fixtures) []string { return m(f, "summarize", "--input-path", f.requests, "--shots", "-1") }, want: "--shots -1: want"},
	{name: "ppl zero parallel", args: func(f *fixtures) []string { return m(f, "ppl", f.text, "-j", "0") }, want: "--parallel 0: want"},
	{name: "-ngl without a GPU warns", args: func(f *fixtures) []string { return m(f, "run", "-ngl", "99", "-n", "4") }, ok: true, want: "no GPU was found"},
	{name: "rolling budget past the trained context warns", args: func(f *fixtures) []string { return m(f, "run", "--budget", "1000", "-n", "4") }, ok: true,
		want: "exceeds the model's trained context (512)"},
	{name: "run rolls however h2o is asked", args: func(f *fixtures) []string { return m(f, "run", "--h2o", "-n", "4") }, ok: true, want: "rolling=true"},

	// ppl
	{name: "NaN weights", args: func(f *fixtures) []string {
		return []string{"ppl", "-m", f.nanModel, f.text, "--policies", "full", "--kl=false"}
	}, want: "not finite"},
	{name: "NaN weights in run", args: func(f *fixtures) []string { return []string{"run", "-m", f.nanModel, "-n", "5"} }, want: "not finite"},
	{name: "NaN weights in summarize", args: func(f *fixtures) []string {
		return []string{"summarize", "-m", f.nanModel, "--input-path", f.requests, "--enable_h2o_generation"}
	}, want: "not finite"},
	{name: "budget larger than the text warns", args: func(f *fixtures) []string {
		return m(f, "ppl", f.text, "--budgets", "4096", "--policies", "full,window")
	}, ok: true, want: "not smaller than the longest document"},
	{name: "binary input", args: func(f *fixtures) []string { return m(f, "ppl", f.binary) }, want: "not text"},
	{name: "no carriage returns in a log", args: func(f *fixtures) []string { return m(f, "ppl", f.text, "--budgets", "16") }, ok: true,
		after: func(t *testing.T, f *fixtures, r result) {
			if strings.Contains(r.stderr, "\r") {
				t.Errorf("progress bar in a redirected log: %q", r.stderr)
			}
		}},

	// summarize
	{name: "summarize resume with another model", args: func(f *fixtures) []string {
		return []string{"summarize", "-m", f.eval, "--input-path", f.requests, "--output-path", f.resumed, "--resume", "--sample_num", "3"}
	}, want: "was made with the model stories260K.gguf"},
	{name: "summarize output is the input", args: func(f *fixtures) []string {
		return m(f, "summarize", "--input-path", f.requests, "--output-path", f.requests)
	}, want: "is the input file"},
	{name: "summarize output in a missing directory", args: func(f *fixtures) []string {
		return m(f, "summarize", "--input-path", f.requests, "--output-path", filepath.Join(f.out, "no", "such", "o.jsonl"))
	}, want: "does not exist", limit: 3 * time.Second},
	{name: "summarize failure leaves no empty output", args: func(f *fixtures) []string {
		return m(f, "summarize", "--input-path", f.requests, "--output-path", filepath.Join(f.out, "failed.jsonl"), "--mode", "full", "--max-tokens", "1000")
	}, want: "leaves no room for the prompt", after: func(t *testing.T, f *fixtures, r result) {
		if _, err := os.Stat(filepath.Join(f.out, "failed.jsonl")); err == nil {
			t.Error("the failed run left its output file")
		}
	}},
	{name: "summarize without output says so", args: func(f *fixtures) []string {
		return m(f, "summarize", "--input-path", f.requests, "--sample_num", "1")
	}, ok: true, want: "no --output-path"},
	{name: "summarize malformed line", args: func(f *fixtures) []string { return m(f, "summarize", "--input-path", f.badJSONL) }, want: "bad.jsonl:3"},

	// stream
	{name: "stream finds the shared questions, small budgets work, rolls", args: func(f *fixtures) []string {
		return m(f, "stream", "--mode", "h2o", "--budget", "64", "--max-gen-len", "1", "-q")
	}, ok: true, want: "rolling=true"},

	// model load errors lead with the reason
	{name: "not a GGUF file", args: func(f *fixtures) []string { return []string{"run", "-m", f.text} }, want: "not a GGUF file"},
	{name: "truncated GGUF", args: func(f *fixtures) []string { return []string{"run", "-m", f.truncated} }, want: "truncated.gguf: "},
	{name: "missing model", args: func(f *fixtures) []string { return []string{"run", "-m", "/nonexistent/m.gguf"} }, want: "no such file"},

	// more of the same kind
	{name: "unknown flag", args: func(f *fixtures) []string { return m(f, "run", "--bogus") }, want: "flag provided but not defined"},
	{name: "unknown policy", args: func(f *fixtures) []string { return m(f, "run", "--mode", "lru") }, want: "lru"},
	{name: "unknown cache type", args: func(f *fixtures) []string {
		return m(f, "run", "-ctk", "f8", "--enable_position_rolling=false", "-n", "2")
	}, want: "f8"},
	{name: "unknown flash attention", args: func(f *fixtures) []string { return m(f, "run", "-fa", "maybe") }, want: "maybe"},
	{name: "unknown prefill", args: func(f *fixtures) []string { return m(f, "run", "--prefill", "half") }, want: "half"},
	{name: "prompt file missing", args: func(f *fixtures) []string { return m(f, "run", "-f", "/nonexistent/prompt.txt") }, want: "no such file"},
	{name: "ppl missing input", args: func(f *fixtures) []string { return m(f, "ppl", "/nonexistent/text") }, want: "no such file"},
	{name: "ppl zero budget", args: func(f *fixtures) []string { return m(f, "ppl", f.text, "--budgets", "0") }, want: "less than one token"},
	{name: "ppl heavy ratio 1", args: func(f *fixtures) []string { return m(f, "ppl", f.text, "--heavy-ratio", "1") }, want: "want 0 <= ratio < 1"},
	{name: "stream missing questions", args: func(f *fixtures) []string { return m(f, "stream", "--input-path", "/nonexistent/q.jsonl") }, want: "no such file"},
	{name: "summarize missing input", args: func(f *fixtures) []string { return m(f, "summarize", "--input-path", "/nonexistent/r.jsonl") }, want: "no such file"},
	{name: "summarize zero parallel", args: func(f *fixtures) []string { return m(f, "summarize", "--input-path", f.requests, "--parallel", "0") }, want: "--parallel"},
	{name: "summarize resume without output", args: func(f *fixtures) []string { return m(f, "summarize", "--input-path", f.requests, "--resume") }, want: "--resume needs --output-path"},
	{name: "bench with a failed row exits non-zero after the table", args: func(f *fixtures) []string {
		return m(f, "bench", "-c", "512", "-p", "0", "-n", "8", "-d", "0,600", "-r", "1", "--modes", "full")
	}, want: "1 of 2 rows failed; the first: full tg8 @ d600: context full", after: func(t *testing.T, f *fixtures, r result) {
		if !strings.Contains(r.stdout, "| full | tg8 |") || !strings.Contains(r.stdout, "| failed: context full") {
			t.Errorf("stdout lacks the measured row or the failed one:\n%s", r.stdout)
		}
	}},
	{name: "bench parallel 0", args: func(f *fixtures) []string { return m(f, "bench", "--parallel", "0", "-p", "8", "-n", "8") }, want: "--parallel"},
	{name: "gguf info garbage", args: func(f *fixtures) []string { return []string{"gguf", "info", f.binary} }, want: "not a GGUF file"},
	{name: "gguf random unknown preset", args: func(f *fixtures) []string {
		return []string{"gguf", "random", "-o", filepath.Join(f.out, "r.gguf"), "--preset", "huge"}
	}, want: "huge"},
	{name: "top-logprobs over 20", args: func(f *fixtures) []string {
		return m(f, "summarize", "--input-path", f.requests, "--top-logprobs", "100")
	}, want: "--top-logprobs 100: want"},
}

// TestBadInput runs every case: a non-zero exit with a message naming the
// problem (or, for warnings, a run that goes on and says so), never a
// crash, always within the time limit.
func TestBadInput(t *testing.T) {
	f := newFixtures(t)
	// an output of stories260K to resume with another model
	f.resumed = filepath.Join(f.out, "resumed.jsonl")
	if r := h2o(t, 30*time.Second, m(f, "summarize", "--input-path", f.requests, "--output-path", f.resumed, "--sample_num", "1")...); r.code != 0 {
		t.Fatalf("summarize: %s", r.stderr)
	}
	for _, c := range badCases {
		t.Run(c.name, func(t *testing.T) {
			if c.want == "no GPU was found" && hasGPU() {
				t.Skip("a GPU is present")
			}
			limit := c.limit
			if limit == 0 {
				limit = 30 * time.Second
			}
			var r result
			if c.warnThenKill {
				r = interrupt(t, limit, func(_, stderr string) bool { return strings.Contains(stderr, c.want) }, c.args(f)...)
			} else {
				r = h2o(t, limit, c.args(f)...)
			}
			if sign := crashed(r); sign != "" {
				t.Fatalf("crashed (%s), exit %d:\n%s", sign, r.code, r.stderr)
			}
			switch {
			case c.warnThenKill: // interrupt fails the test unless the warning came in time
			case r.killed:
				t.Fatalf("still running after %s:\n%s", limit, r.stderr)
			case c.ok && r.code != 0:
				t.Fatalf("exit %d, want 0:\n%s", r.code, r.stderr)
			case !c.ok && r.code == 0:
				t.Fatalf("exit 0, want an error naming %q:\n%s", c.want, r.stderr)
			}
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr does not say %q:\n%s", c.want, r.stderr)
			}
			if c.after != nil {
				c.after(t, f, r)
			}
		})
	}
}
