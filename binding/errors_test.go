package binding

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
	errs := make(chan error, 3)
	// each worker decodes on a context and batch of its own
	worker := func(nBatch int, run func(c *Context, b *Batch) error) {
		defer wg.Done()
		c, err := NewContext(m, ContextParams{NCtx: 256, Threads: 1})
		if err != nil {
			errs <- err
			return
		}
		defer c.Close()
		b := NewBatch(nBatch)
		defer b.Close()
		if err := run(c, b); err != nil {
			errs <- err
		}
	}
	fail := func(base int) func(c *Context, b *Batch) error {
		return func(c *Context, b *Batch) error {
			for i := range rounds {
				tok := Token(nVocab + base + i)
				b.Clear()
				b.Add(tok, 0, 0, true)
				err := c.Decode(b)
				var e *Error
				if !errors.As(err, &e) {
					return fmt.Errorf("token %d: err = %v, want an *Error", tok, err)
				}
				want := fmt.Sprintf("invalid token[0] = %d;", tok)
				if e.Op != "decode" || !strings.HasPrefix(e.Detail, want) {
					return fmt.Errorf("token %d: Op %q, Detail %q, want decode and a detail starting %q", tok, e.Op, e.Detail, want)
				}
				if !strings.HasPrefix(err.Error(), "decode: "+want) {
					return fmt.Errorf("message %q does not lead with the reason", err)
				}
			}
			return nil
		}
	}
	succeed := func(c *Context, b *Batch) error {
		for i := range rounds {
			c.ClearMemory()
			b.Clear()
			for j := range 8 {
				b.Add(Token(1+(i+j)%(nVocab-1)), int32(j), 0, j == 7)
			}
			if err := c.Decode(b); err != nil {
				return fmt.Errorf("valid decode %d: %v", i, err)
			}
		}
		return nil
	}
	wg.Add(3)
	go worker(1, fail(0))
	go worker(1, fail(100000))
	go worker(8, succeed)
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

// A long prompt decode on the CPU returns early when its context is
// cancelled: the error wraps ErrAborted and context.Canceled, the batch's
// last micro-batches are not in the cache, and the context decodes again.
func TestDecodeContextCancel(t *testing.T) {
	m := loadStories(t)
	const n, nUbatch = 1024, 128
	c := newCtx(t, m, ContextParams{NCtx: n, NBatch: n, NUbatch: nUbatch, Threads: 1})
	b := NewBatch(n)
	defer b.Close()
	for i := range n {
		b.Add(Token(1+i%500), int32(i), 0, i == n-1)
	}
	start := time.Now()
	if err := c.DecodeContext(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	full := time.Since(start)
	c.ClearMemory()

	// Cancel early in the first micro-batch; whatever the machine's speed
	// the decode is then still running.
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(full/(4*n/nUbatch), cancel)
	defer timer.Stop()
	start = time.Now()
	err := c.DecodeContext(ctx, b)
	took := time.Since(start)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrAborted) {
		t.Fatalf("err = %v, want ErrAborted and context.Canceled", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Op != "decode" {
		t.Fatalf("err = %#v, want an *Error of decode", err)
	}
	if p := c.PosMax(0); p >= n/2 {
		t.Fatalf("cache holds positions up to %d after the abort: the decode did not stop early", p)
	}
	t.Logf("full decode %v, cancelled after %v", full, took)

	// Already cancelled: nothing is decoded.
	c.ClearMemory()
	if err := c.DecodeContext(ctx, b); !errors.Is(err, context.Canceled) || c.PosMax(0) != -1 {
		t.Fatalf("cancelled context: err = %v, PosMax %d", err, c.PosMax(0))
	}
	// The abort flag does not outlive its call.
	b.Clear()
	for i := range 8 {
		b.Add(Token(1+i), int32(i), 0, i == 7)
	}
	if err := c.Decode(b); err != nil {
		t.Fatalf("decode after an abort: %v", err)
	}
	if c.PosMax(0) != 7 || c.Logits(-1) == nil {
		t.Fatalf("decode after an abort: PosMax %d", c.PosMax(0))
	}
}
