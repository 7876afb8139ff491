package binding

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/h2o-kv/h2o/internal/testutil"
)

// Two contexts of one model decode at once (as ppl -j 2 does), one with
// invalid tokens, one with valid ones: each failure carries the reason of
// its own call (its own token id), the valid decodes never fail. A third
// failing context with other ids checks that failures do not swap details.
func TestErrorsPerCall(t *testing.T) {
	m := loadStories(t)
	nVocab := m.Info().NVocab
	const rounds = 100
	var wg sync.WaitGroup
	errs := make(chan error, 3*rounds)
	fail := func(base int) {
		defer wg.Done()
		c, err := NewContext(m, ContextParams{NCtx: 256, Threads: 1})
		if err != nil {
			errs <- err
			return
		}
		defer c.Close()
		b := NewBatch(1)
		defer b.Close()
		for i := range rounds {
			tok := Token(nVocab + base + i)
			b.Clear()
			b.Add(tok, 0, 0, true)
			err := c.Decode(b)
			var e *Error
			if !errors.As(err, &e) {
				errs <- fmt.Errorf("token %d: err = %v, want an *Error", tok, err)
				return
			}
			want := fmt.Sprintf("invalid token[0] = %d;", tok)
			if e.Op != "decode" || !strings.HasPrefix(e.Detail, want) {
				errs <- fmt.Errorf("token %d: Op %q, Detail %q, want decode and a detail starting %q", tok, e.Op, e.Detail, want)
				return
			}
			if !strings.HasPrefix(err.Error(), "decode: "+want) {
				errs <- fmt.Errorf("message %q does not lead with the reason", err)
				return
			}
		}
	}
	wg.Add(3)
	go fail(0)
	go fail(100000)
	go func() {
		defer wg.Done()
		c, err := NewContext(m, ContextParams{NCtx: 256, Threads: 1})
		if err != nil {
			errs <- err
			return
		}
		defer c.Close()
		b := NewBatch(8)
		defer b.Close()
		for i := range rounds {
			c.ClearMemory()
			b.Clear()
			for j := range 8 {
				b.Add(Token(1+(i+j)%(nVocab-1)), int32(j), 0, j == 7)
			}
			if err := c.Decode(b); err != nil {
				errs <- fmt.Errorf("valid decode %d: %v", i, err)
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A damaged model file's error names what is wrong on its first line: the
// GGUF reader's finding first, llama.cpp's own lines after.
func TestLoadErrorNamesReason(t *testing.T) {
	src, err := os.ReadFile(testutil.Stories260K(t))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trunc.gguf")
	if err := os.WriteFile(p, src[:len(src)-10], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadModel(p, ModelParams{})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *Error", err)
	}
	if e.Op != "load model "+p {
		t.Errorf("Op = %q", e.Op)
	}
	if e.Err == nil || !strings.Contains(e.Err.Error(), `tensor "output.weight"`) || !strings.Contains(e.Err.Error(), "extends past the end") {
		t.Errorf("GGUF reason = %v, want the truncated tensor", e.Err)
	}
	if !strings.Contains(e.Detail, "not within the file bounds") {
		t.Errorf("llama.cpp detail = %q", e.Detail)
	}
	if first := strings.SplitN(err.Error(), "; ", 2)[0]; !strings.Contains(first, "output.weight") {
		t.Errorf("first part %q does not name the tensor", first)
	}

	_, err = LoadModel(filepath.Join(t.TempDir(), "missing.gguf"), ModelParams{})
	if !errors.Is(err, os.ErrNotExist) || !errors.As(err, &e) {
		t.Errorf("missing file: err = %v, want an *Error wrapping os.ErrNotExist", err)
	}
}

func TestCreateContextError(t *testing.T) {
	m := loadStories(t)
	_, err := NewContext(m, ContextParams{NCtx: 256, TypeV: "q8_0", FlashAttn: "off"})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *Error", err)
	}
	if e.Op != "create context (n_ctx 256)" || !strings.Contains(e.Detail, "V cache quantization requires flash_attn") {
		t.Fatalf("Op %q, Detail %q", e.Op, e.Detail)
	}
}

func TestDetailLines(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"init: invalid token[0] = 9999\ndecode: failed to initialize batch\n", "invalid token[0] = 9999; failed to initialize batch"},
		{"llama_model_load: error loading model: bad\nllama_model_load: error loading model: bad\n", "error loading model: bad"},
		{"not a prefix: x\n  \n", "not a prefix: x"},
	} {
		if got := detail(c.in); got != c.want {
			t.Errorf("detail(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
