package binding

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/h2o-kv/h2o/gguf"
	"github.com/h2o-kv/h2o/internal/testutil"
)

// Converting a model: every matrix takes the new type, norms stay f32, the
// file's size follows the type's, and the converted model predicts as the
// original does within the rounding: the f32 model to f16, and the
// evaluation model's q8_0 weights expanded to f16 (what a batched server
// does to multiply in f16).
func TestConvert(t *testing.T) {
	for _, c := range []struct {
		src                string
		typ, tensor        string
		minRatio, maxRatio float64 // output size / input size
		minSame            int     // of the input model's 24 greedy tokens, how many the output predicts too
	}{
		{testutil.Stories260K(t), "f16", "F16", 0.45, 0.56, 24},
		{testutil.EvalModel(t), "f16", "F16", 1.7, 1.95, 20},
	} {
		src := c.src
		orig, err := LoadModel(src, ModelParams{})
		if err != nil {
			t.Fatal(err)
		}
		want := greedy(t, orig, 24)
		orig.Close()
		srcSize := fileSize(t, src)
		out := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(src), ".gguf")+"-"+c.typ+".gguf")
		if err := Convert(src, out, ConvertParams{Type: c.typ, Threads: 1}); err != nil {
			t.Fatal(err)
		}
		info, err := gguf.ReadInfo(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, tn := range info.Tensors {
			wantType := c.tensor
			if len(tn.Dims) == 1 {
				wantType = "F32"
			}
			if !strings.EqualFold(tn.Type.String(), wantType) {
				t.Errorf("%s: tensor %s is %s, want %s", c.typ, tn.Name, tn.Type, wantType)
			}
		}
		ratio := float64(fileSize(t, out)) / float64(srcSize)
		m, err := LoadModel(out, ModelParams{})
		if err != nil {
			t.Fatal(err)
		}
		same := teacherForcedAgreement(t, m, want)
		m.Close()
		name := filepath.Base(src) + " to " + c.typ
		t.Logf("%s: %.2f of the input's size, predicts %d of the input model's 24 greedy tokens", name, ratio, same)
		if ratio < c.minRatio || ratio > c.maxRatio {
			t.Errorf("%s: output is %.2f of the input's size, want %.2f to %.2f", name, ratio, c.minRatio, c.maxRatio)
		}
		if same < c.minSame {
			t.Errorf("%s: predicts %d of the input model's 24 greedy tokens, want at least %d", name, same, c.minSame)
		}
	}
}

// Bad requests are errors before llama.cpp runs, and a failed conversion
// leaves nothing under the output's name.
func TestConvertErrors(t *testing.T) {
	src := testutil.Stories260K(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.gguf")
	trunc := filepath.Join(dir, "trunc.gguf")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(trunc, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in, out string
		p       ConvertParams
		want    string
	}{
		{src, out, ConvertParams{Type: "q5_k"}, "unknown weight type"},
		{src, out, ConvertParams{Type: "f16", Threads: -1}, "threads -1"},
		{filepath.Join(dir, "missing.gguf"), out, ConvertParams{Type: "f16"}, "no such file"},
		{src, src, ConvertParams{Type: "f16"}, "the output is the input"},
		{src, filepath.Join(dir, "no", "such", "dir.gguf"), ConvertParams{Type: "f16"}, "no directory"},
		{trunc, out, ConvertParams{Type: "f16"}, "convert " + trunc},
		// rows of 172 values do not split into blocks of 32: llama.cpp's reason
		{src, out, ConvertParams{Type: "q8_0"}, "Unsupported tensor size"},
	} {
		err := Convert(c.in, c.out, c.p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Convert(%s, %s, %+v) = %v, want an error with %q", filepath.Base(c.in), filepath.Base(c.out), c.p, err, c.want)
		}
	}
	left, _ := os.ReadDir(dir)
	for _, e := range left {
		if e.Name() != "trunc.gguf" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// teacherForcedAgreement feeds the prompt of greedy and then toks to m, and
// counts the steps at which m's most likely next token is toks' next one.
func teacherForcedAgreement(t *testing.T, m *Model, toks []Token) int {
	t.Helper()
	c := newCtx(t, m, ContextParams{NCtx: 256})
	prompt, _ := m.Tokenize("Once upon a time", true, false)
	decodeAll(t, c, prompt, 0)
	n := 0
	for i, tk := range toks {
		if argmax(c.Logits(-1)) == tk {
			n++
		}
		decodeStep(t, c, tk, len(prompt)+i)
	}
	return n
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
