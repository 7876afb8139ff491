package gguf

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/h2o-kv/h2o/internal/testutil"
)

// ---- tiny dequantizer, independent of the package's encoder ----

func testF16(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch e {
	case 0:
		return sign * m * math.Pow(2, -24)
	case 0x1f:
		if m != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	}
	return sign * (1 + m/1024) * math.Pow(2, float64(e-15))
}

// dequant decodes n elements of type t from b.
func dequant(t *testing.T, typ TensorType, b []byte, n int) []float64 {
	t.Helper()
	out := make([]float64, 0, n)
	switch typ {
	case F32:
		for i := 0; i < n; i++ {
			out = append(out, float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))))
		}
	case F16:
		for i := 0; i < n; i++ {
			out = append(out, testF16(binary.LittleEndian.Uint16(b[2*i:])))
		}
	case Q8_0:
		for blk := 0; blk < n/32; blk++ {
			p := b[34*blk:]
			d := testF16(binary.LittleEndian.Uint16(p))
			for j := 0; j < 32; j++ {
				out = append(out, d*float64(int8(p[2+j])))
			}
		}
	case Q4_0:
		for blk := 0; blk < n/32; blk++ {
			p := b[18*blk:]
			d := testF16(binary.LittleEndian.Uint16(p))
			var v [32]float64
			for j := 0; j < 16; j++ {
				v[j] = d * float64(int(p[2+j]&0xf)-8)
				v[j+16] = d * float64(int(p[2+j]>>4)-8)
			}
			out = append(out, v[:]...)
		}
	default:
		t.Fatalf("dequant: type %s", typ)
	}
	return out
}

// ---- helpers ----

func tinyOpts(t *testing.T, typ TensorType, seed int64) LlamaOptions {
	t.Helper()
	s, err := Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	return LlamaOptions{Shape: s, Type: typ, Seed: seed, Name: "tiny-test"}
}

func writeTiny(t *testing.T, typ TensorType, seed int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny-"+typ.String()+".gguf")
	if err := WriteRandomLlama(path, tinyOpts(t, typ, seed)); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustUint(t *testing.T, in *Info, key string) uint64 {
	t.Helper()
	p, ok := in.Get(key)
	if !ok {
		t.Fatalf("missing key %s", key)
	}
	if p.Type != TypeUint32 {
		t.Fatalf("key %s has type %s, want u32 (llama.cpp checks types strictly)", key, p.Type)
	}
	v, _ := p.Uint()
	return v
}

// readData returns the bytes of one tensor.
func readData(t *testing.T, path string, in *Info, name string) (TensorInfo, []byte) {
	t.Helper()
	ti, ok := in.Tensor(name)
	if !ok {
		t.Fatalf("no tensor %s", name)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, ti.Size)
	if _, err := f.ReadAt(b, in.DataOffset+ti.Offset); err != nil {
		t.Fatal(err)
	}
	return ti, b
}

func stats(v []float64) (mean, std float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(v)))
}

// ---- tests ----

func TestWriteTinyAllTypes(t *testing.T) {
	for _, typ := range []TensorType{F32, F16, Q8_0, Q4_0} {
		t.Run(typ.String(), func(t *testing.T) {
			opt := tinyOpts(t, typ, 42)
			path := writeTiny(t, typ, 42)
			in, err := ReadInfo(path)
			if err != nil {
				t.Fatal(err)
			}
			st, _ := os.Stat(path)
			want, err := opt.FileSize()
			if err != nil {
				t.Fatal(err)
			}
			if st.Size() != want || in.FileSize != want {
				t.Errorf("file size %d, FileSize() %d", st.Size(), want)
			}
			if in.Version != 3 || in.Alignment != 32 || in.DataOffset%32 != 0 || in.DataOffset+in.DataSize != st.Size() {
				t.Errorf("version %d alignment %d data [%d+%d] file %d", in.Version, in.Alignment, in.DataOffset, in.DataSize, st.Size())
			}
			if p, _ := in.Get("general.architecture"); p.Value != "llama" {
				t.Errorf("architecture %v", p.Value)
			}
			if p, _ := in.Get("tokenizer.ggml.model"); p.Value != "llama" {
				t.Errorf("tokenizer model %v", p.Value)
			}
			for key, v := range map[string]uint64{
				"llama.context_length": 512, "llama.embedding_length": 64, "llama.block_count": 2,
				"llama.feed_forward_length": 128, "llama.attention.head_count": 4,
				"llama.attention.head_count_kv": 2, "llama.rope.dimension_count": 16,
				"llama.vocab_size": 512, "general.file_type": uint64(fileType(typ)), "general.alignment": 32,
				"tokenizer.ggml.bos_token_id": 1, "tokenizer.ggml.eos_token_id": 2, "tokenizer.ggml.unknown_token_id": 0,
			} {
				if got := mustUint(t, in, key); got != v {
					t.Errorf("%s = %d, want %d", key, got, v)
				}
			}
			for key, v := range map[string]float32{"llama.attention.layer_norm_rms_epsilon": 1e-5, "llama.rope.freq_base": 10000} {
				if p, _ := in.Get(key); p.Value != v {
					t.Errorf("%s = %v (%s), want f32 %v", key, p.Value, p.Type, v)
				}
			}
			if p, _ := in.Get("tokenizer.ggml.add_bos_token"); p.Value != true {
				t.Errorf("add_bos_token = %v", p.Value)
			}

			// vocabulary
			tk, _ := in.Get("tokenizer.ggml.tokens")
			sc, _ := in.Get("tokenizer.ggml.scores")
			ty, _ := in.Get("tokenizer.ggml.token_type")
			tokens, _ := tk.Value.([]string)
			scores, _ := sc.Value.([]float32)
			types, _ := ty.Value.([]int32)
			if len(tokens) != 512 || len(scores) != 512 || len(types) != 512 {
				t.Fatalf("vocab arrays: %d tokens (%s), %d scores (%s), %d types (%s)", len(tokens), tk.ElemType, len(scores), sc.ElemType, len(types), ty.ElemType)
			}
			if tokens[0] != "<unk>" || tokens[1] != "<s>" || tokens[2] != "</s>" || tokens[3] != "<0x00>" || tokens[3+0x0A] != "<0x0A>" || tokens[258] != "<0xFF>" {
				t.Errorf("special/byte tokens: %q", tokens[:4])
			}
			if types[0] != 2 || types[1] != 3 || types[2] != 3 || types[3] != 6 || types[258] != 6 || types[259] != 1 || types[511] != 1 {
				t.Errorf("token types %v...", types[:5])
			}
			seen := map[string]bool{}
			for i, tok := range tokens {
				if tok == "" || seen[tok] {
					t.Fatalf("token %d %q empty or duplicate", i, tok)
				}
				seen[tok] = true
				if i > 0 && scores[i] > scores[i-1] {
					t.Fatalf("scores not descending at %d", i)
				}
			}

			// tensors
			ts, _ := opt.tensors()
			if len(in.Tensors) != 2*9+3 || len(in.Tensors) != len(ts) {
				t.Fatalf("%d tensors", len(in.Tensors))
			}
			shapes := map[string][]int64{
				"token_embd.weight": {64, 512}, "output.weight": {64, 512}, "output_norm.weight": {64},
				"blk.1.attn_norm.weight": {64}, "blk.1.attn_q.weight": {64, 64}, "blk.1.attn_k.weight": {64, 32},
				"blk.1.attn_v.weight": {64, 32}, "blk.1.attn_output.weight": {64, 64}, "blk.1.ffn_norm.weight": {64},
				"blk.1.ffn_gate.weight": {64, 128}, "blk.1.ffn_up.weight": {64, 128}, "blk.1.ffn_down.weight": {128, 64},
			}
			var params int64
			for _, ti := range in.Tensors {
				params += ti.Elements()
				if ti.Offset%32 != 0 {
					t.Errorf("%s offset %d not aligned", ti.Name, ti.Offset)
				}
				wantType := typ
				if len(ti.Dims) == 1 {
					wantType = F32
				}
				if ti.Type != wantType {
					t.Errorf("%s type %s, want %s", ti.Name, ti.Type, wantType)
				}
				if s, ok := shapes[ti.Name]; ok && !equalDims(s, ti.Dims) {
					t.Errorf("%s dims %v, want %v", ti.Name, ti.Dims, s)
				}
			}
			if params != opt.ParamCount() {
				t.Errorf("params %d, ParamCount %d", params, opt.ParamCount())
			}

			// values: norms are 1, matrices have std ~0.02
			_, b := readData(t, path, in, "blk.0.ffn_norm.weight")
			for _, v := range dequant(t, F32, b, 64) {
				if v != 1 {
					t.Fatalf("norm weight %v", v)
				}
			}
			for _, name := range []string{"token_embd.weight", "blk.1.ffn_down.weight"} {
				ti, b := readData(t, path, in, name)
				v := dequant(t, typ, b, int(ti.Elements()))
				mean, std := stats(v)
				if math.IsNaN(std) || std < 0.015 || std > 0.025 || math.Abs(mean) > 0.005 {
					t.Errorf("%s: mean %.4f std %.4f, want ~0, ~0.02", name, mean, std)
				}
			}
		})
	}
}

func equalDims(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestStories260K reads the converter's file and checks that a random model
// of the same shape has the same keys, tensor names, order, shapes and types.
func TestStories260K(t *testing.T) {
	ref, err := ReadInfo(testutil.Stories260K(t))
	if err != nil {
		t.Fatal(err)
	}
	for key, v := range map[string]uint64{
		"llama.block_count": 5, "llama.embedding_length": 64, "llama.attention.head_count": 8,
		"llama.attention.head_count_kv": 4, "llama.vocab_size": 512, "llama.context_length": 512,
	} {
		if got := mustUint(t, ref, key); got != v {
			t.Errorf("stories260K %s = %d, want %d", key, got, v)
		}
	}
	if len(ref.Tensors) != 5*9+3 {
		t.Errorf("stories260K has %d tensors", len(ref.Tensors))
	}

	opt := LlamaOptions{Shape: LlamaShape{NLayer: 5, NEmbd: 64, NHead: 8, NHeadKV: 4, NFF: 172, NVocab: 512, NCtx: 512}, Type: F32}
	path := filepath.Join(t.TempDir(), "s.gguf")
	if err := WriteRandomLlama(path, opt); err != nil {
		t.Fatal(err)
	}
	got, err := ReadInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ref.KV {
		q, ok := got.Get(p.Key)
		switch {
		case !ok:
			t.Errorf("key %s (%s) of stories260K is missing", p.Key, p.Type)
		case q.Type != p.Type || q.ElemType != p.ElemType || q.Len != p.Len:
			t.Errorf("key %s: %s/%s[%d], stories260K has %s/%s[%d]", p.Key, q.Type, q.ElemType, q.Len, p.Type, p.ElemType, p.Len)
		case p.Type != TypeArray && p.Type != TypeString && q.Value != p.Value:
			t.Errorf("key %s: %v, stories260K has %v", p.Key, q.Value, p.Value)
		}
	}
	if len(got.Tensors) != len(ref.Tensors) {
		t.Fatalf("%d tensors, stories260K has %d", len(got.Tensors), len(ref.Tensors))
	}
	for i, r := range ref.Tensors {
		g := got.Tensors[i]
		if g.Name != r.Name || g.Type != r.Type || !equalDims(g.Dims, r.Dims) || g.Offset != r.Offset || g.Size != r.Size {
			t.Errorf("tensor %d: %s %s %v @%d, stories260K has %s %s %v @%d", i, g.Name, g.Type, g.Dims, g.Offset, r.Name, r.Type, r.Dims, r.Offset)
		}
	}
	// The byte tokens, which llama.cpp's SPM tokenizer needs, are the same.
	rt, _ := ref.Get("tokenizer.ggml.tokens")
	gt, _ := got.Get("tokenizer.ggml.tokens")
	rtt, _ := ref.Get("tokenizer.ggml.token_type")
	gtt, _ := got.Get("tokenizer.ggml.token_type")
	for i := 0; i < nFixedTokens; i++ {
		if rt.Value.([]string)[i] != gt.Value.([]string)[i] || rtt.Value.([]int32)[i] != gtt.Value.([]int32)[i] {
			t.Fatalf("token %d differs from stories260K", i)
		}
	}
}

func TestQuantRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	src := make([]float32, 32*64)
	for i := range src {
		src[i] = float32(r.NormFloat64() * 0.02)
		if i%97 == 0 {
			src[i] *= 10 // outliers
		}
	}
	for i := 32 * 60; i < 32*61; i++ {
		src[i] = 0 // an all-zero block
	}
	for _, typ := range []TensorType{F32, F16, Q8_0, Q4_0} {
		b, err := encodeRow(nil, typ, src)
		if err != nil {
			t.Fatal(err)
		}
		if rs, _ := typ.RowSize(int64(len(src))); int64(len(b)) != rs {
			t.Fatalf("%s: %d bytes, RowSize %d", typ, len(b), rs)
		}
		got := dequant(t, typ, b, len(src))
		for blk := 0; blk < len(src)/32; blk++ {
			var amax float64
			for _, x := range src[32*blk : 32*blk+32] {
				amax = max(amax, math.Abs(float64(x)))
			}
			var tol float64
			switch typ {
			case F16:
				tol = amax/2048 + 1e-7
			case Q8_0:
				tol = amax/127*(0.5+127.0/2048) + 1e-7 // half a step + f16 rounding of the scale
			case Q4_0:
				tol = amax/8*(1+8.0/2048) + 1e-7 // a step (+amax clamps from 8 to 7) + scale rounding
			}
			for j := 32 * blk; j < 32*blk+32; j++ {
				if d := math.Abs(got[j] - float64(src[j])); d > tol {
					t.Fatalf("%s: element %d = %g, want %g ± %g", typ, j, got[j], src[j], tol)
				}
			}
		}
	}
	if _, err := encodeRow(nil, Q4_0, src[:33]); err == nil {
		t.Error("Q4_0 row of 33 elements: no error")
	}
}

func TestRandomBlocks(t *testing.T) {
	for _, typ := range []TensorType{F32, F16} { // odd row lengths
		rs, _ := typ.RowSize(33)
		b := make([]byte, rs)
		r := rowRNG(1, 2, 3)
		fillRandomRow(b, typ, 33, &r)
		if v := dequant(t, typ, b, 33); v[32] == 0 && v[31] == 0 {
			t.Errorf("%s: odd row tail not filled", typ)
		}
	}
	const n = 32 * 4096
	for _, typ := range []TensorType{F32, F16, Q8_0, Q4_0} {
		rs, _ := typ.RowSize(n)
		b := make([]byte, rs)
		r := rowRNG(7, 3, 11)
		fillRandomRow(b, typ, n, &r)
		v := dequant(t, typ, b, n)
		mean, std := stats(v)
		if std < 0.018 || std > 0.022 || math.Abs(mean) > 0.001 {
			t.Errorf("%s: mean %.5f std %.5f, want ~0, ~0.02", typ, mean, std)
		}
		if typ == Q8_0 {
			for blk := 0; blk < n/32; blk++ {
				if bytes.IndexByte(b[34*blk+2:34*blk+34], 0x80) >= 0 {
					t.Fatalf("Q8_0 block %d has a -128 quant", blk)
				}
			}
		}
	}
}

func TestF16(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := f16ToF32(uint16(h))
		if f != f { // NaN
			continue
		}
		if float64(f) != testF16(uint16(h)) {
			t.Fatalf("f16ToF32(%#04x) = %g, want %g", h, f, testF16(uint16(h)))
		}
		if back := f32ToF16(f); back != uint16(h) {
			t.Fatalf("f32ToF16(%g) = %#04x, want %#04x", f, back, h)
		}
	}
	for _, c := range []struct {
		f float32
		h uint16
	}{{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, {1e-8, 0}, {5.96e-8, 1}, {1 + 1.0/2048, 0x3c00}, {1 + 3.0/2048, 0x3c02}} {
		if got := f32ToF16(c.f); got != c.h {
			t.Errorf("f32ToF16(%g) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
}

func TestDeterminism(t *testing.T) {
	a, err := os.ReadFile(writeTiny(t, Q4_0, 1))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(writeTiny(t, Q4_0, 1))
	c, _ := os.ReadFile(writeTiny(t, Q4_0, 2))
	if !bytes.Equal(a, b) {
		t.Error("same seed gave different files")
	}
	if len(a) != len(c) || bytes.Equal(a, c) {
		t.Error("different seeds gave identical files (or different sizes)")
	}
}

func TestValidation(t *testing.T) {
	base := tinyOpts(t, Q4_0, 0)
	cases := []struct {
		mod  func(*LlamaOptions)
		want string
	}{
		{func(o *LlamaOptions) { o.Shape.NHead = 5 }, "not divisible by n_head"},
		{func(o *LlamaOptions) { o.Shape.NHeadKV = 3 }, "not a multiple of n_head_kv"},
		{func(o *LlamaOptions) { o.Shape.NFF = 172 }, "blk.0.ffn_down.weight"},
		{func(o *LlamaOptions) { o.Shape.NEmbd, o.Shape.NHead, o.Shape.NHeadKV = 48, 3, 3 }, "token_embd.weight"},
		{func(o *LlamaOptions) { o.Shape.NVocab = 100 }, "too small"},
		{func(o *LlamaOptions) { o.Shape.NLayer = 0 }, "NLayer"},
		{func(o *LlamaOptions) { o.Type = TensorType(12) }, "q4_K"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		o := base
		c.mod(&o)
		path := filepath.Join(dir, "bad.gguf")
		err := WriteRandomLlama(path, o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one mentioning %q", err, c.want)
		}
		if _, serr := os.Stat(path); serr == nil {
			t.Errorf("file written despite error %v", err)
		}
		if _, err := o.FileSize(); err == nil {
			t.Errorf("FileSize: no error for %q case", c.want)
		}
	}
	// F32 allows any row length (stories260K has n_ff 172).
	o := base
	o.Type, o.Shape.NFF = F32, 172
	if _, err := o.FileSize(); err != nil {
		t.Error(err)
	}
	if _, err := Preset("llama9"); err == nil || !strings.Contains(err.Error(), "llama2-7b") {
		t.Errorf("Preset error %v", err)
	}
	for _, s := range []string{"f32", "F16", "q8_0", "Q4_0"} {
		typ, err := ParseTensorType(s)
		if err != nil || typ.String() != strings.ToLower(s) {
			t.Errorf("ParseTensorType(%q) = %v, %v", s, typ, err)
		}
	}
	if _, err := ParseTensorType("q4_k"); err == nil {
		t.Error("ParseTensorType(q4_k): no error")
	}
}

func TestPresetSizes(t *testing.T) {
	for _, c := range []struct {
		name   string
		params int64
	}{{"llama2-7b", 6738415616}, {"llama2-13b", 13015864320}, {"llama2-70b", 68976648192}, {"llama3-8b", 8030261248}} {
		s, err := Preset(c.name)
		if err != nil {
			t.Fatal(err)
		}
		o := LlamaOptions{Shape: s, Type: Q4_0}
		if got := o.ParamCount(); got != c.params {
			t.Errorf("%s: %d params, want %d", c.name, got, c.params)
		}
		size, err := o.FileSize()
		if err != nil {
			t.Fatal(err)
		}
		// Q4_0 is 4.5 bits per weight, norms aside.
		if lo, hi := c.params*9/16, c.params*9/16+c.params/100+4<<20; size < lo || size > hi {
			t.Errorf("%s Q4_0: FileSize %d, want about %d", c.name, size, lo)
		}
	}
}

func TestReadErrors(t *testing.T) {
	path := writeTiny(t, Q8_0, 3)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	in, err := ReadInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, cut := range []int64{0, 3, 10, 30, 500, 5000, in.DataOffset - 8, in.DataOffset + 100, in.FileSize - in.DataSize/2, in.FileSize - 1000} {
		if _, err := ReadInfo(writeBytes(t, dir, "cut.gguf", good[:cut])); err == nil {
			t.Errorf("file truncated to %d of %d bytes: no error", cut, len(good))
		} else if cut > 4 && !strings.Contains(err.Error(), "truncated") {
			t.Errorf("truncated to %d: error %q does not say truncated", cut, err)
		}
	}
	r := rand.New(rand.NewSource(9))
	garbage := make([]byte, 4096)
	r.Read(garbage)
	if _, err := ReadInfo(writeBytes(t, dir, "garbage.gguf", garbage)); err == nil {
		t.Error("garbage: no error")
	}
	copy(garbage, "GGUF\x03\x00\x00\x00")
	if _, err := ReadInfo(writeBytes(t, dir, "garbage2.gguf", garbage)); err == nil {
		t.Error("garbage with GGUF magic: no error")
	}
	// Random corruption of the header must never panic; ReadInfo may or may
	// not notice it.
	hdr := good[:in.DataOffset]
	for i := 0; i < 300; i++ {
		bad := bytes.Clone(hdr)
		for k := 0; k < 1+i%4; k++ {
			bad[8+r.Intn(len(bad)-8)] = byte(r.Intn(256))
		}
		readInfo(bufio.NewReader(bytes.NewReader(bad)), int64(len(good)))
	}
}

func writeBytes(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func BenchmarkFillRandomRow(b *testing.B) {
	const n = 4096
	for _, typ := range []TensorType{F32, F16, Q8_0, Q4_0} {
		b.Run(typ.String(), func(b *testing.B) {
			rs, _ := typ.RowSize(n)
			buf := make([]byte, rs)
			b.SetBytes(rs)
			for i := 0; b.Loop(); i++ {
				r := rowRNG(1, 0, int64(i))
				fillRandomRow(buf, typ, n, &r)
			}
		})
	}
}

// TestWriteModels writes full-size models on request, for checking them with
// llama.cpp and timing the writer:
//
//	GGUF_TEST_WRITE=llama2-7b:q4_0,llama3-8b:f16 GGUF_TEST_DIR=/tmp/models go test -run WriteModels ./gguf/
func TestWriteModels(t *testing.T) {
	list, dir := os.Getenv("GGUF_TEST_WRITE"), os.Getenv("GGUF_TEST_DIR")
	if list == "" || dir == "" {
		t.Skip("set GGUF_TEST_WRITE=preset:type[,...] and GGUF_TEST_DIR to write full-size models")
	}
	for _, spec := range strings.Split(list, ",") {
		preset, typName, _ := strings.Cut(spec, ":")
		s, err := Preset(preset)
		if err != nil {
			t.Fatal(err)
		}
		typ, err := ParseTensorType(typName)
		if err != nil {
			t.Fatal(err)
		}
		o := LlamaOptions{Shape: s, Type: typ, Seed: 1, Name: preset + "-random-" + typ.String()}
		path := filepath.Join(dir, preset+"-"+typ.String()+".gguf")
		start := time.Now()
		if err := WriteRandomLlama(path, o); err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		in, err := ReadInfo(path)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := o.FileSize()
		if in.FileSize != want {
			t.Errorf("%s: %d bytes, FileSize() %d", path, in.FileSize, want)
		}
		t.Logf("%s: %d params, %.2f GB in %.1fs (%.0f MB/s, %d CPUs)", path, o.ParamCount(), float64(in.FileSize)/1e9,
			el.Seconds(), float64(in.FileSize)/1e6/el.Seconds(), runtime.NumCPU())
	}
}

// TestChunkedWrite checks the parallel writer against a sequential one on
// tensors spanning several chunks, with odd sizes that need padding.
func TestChunkedWrite(t *testing.T) {
	ts := []tensorHeader{
		{name: "a", typ: F32, ne: []int64{1000, 700}}, // 2.8 MB: 3 chunks
		{name: "b", typ: F16, ne: []int64{3}},         // 6 bytes: padded
		{name: "c", typ: Q4_0, ne: []int64{32 * 1000, 60}},
		{name: "d", typ: Q8_0, ne: []int64{64, 2, 3}},
	}
	fill := func(ti int, row int64, dst []byte) {
		r := rowRNG(5, ti, row)
		fillRandomRow(dst, ts[ti].typ, ts[ti].ne[0], &r)
	}
	path := filepath.Join(t.TempDir(), "c.gguf")
	if err := writeFile(path, []KV{kv("general.architecture", "test")}, ts, fill); err != nil {
		t.Fatal(err)
	}
	in, err := ReadInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, th := range ts {
		ti, got := readData(t, path, in, th.name)
		if ti.Type != th.typ || !equalDims(ti.Dims, th.ne) {
			t.Fatalf("%s: %s %v", ti.Name, ti.Type, ti.Dims)
		}
		rs, _ := th.typ.RowSize(th.ne[0])
		want := make([]byte, ti.Size)
		for row := int64(0); row < ti.Size/rs; row++ {
			fill(i, row, want[row*rs:(row+1)*rs])
		}
		if !bytes.Equal(got, want) {
			t.Errorf("tensor %s differs from a sequential fill", th.name)
		}
	}
	if in.DataOffset+in.DataSize != in.FileSize {
		t.Errorf("data ends at %d, file is %d bytes", in.DataOffset+in.DataSize, in.FileSize)
	}
}

type failWriter struct{ left int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n := w.left
		w.left = 0
		return n, os.ErrClosed
	}
	w.left -= len(p)
	return len(p), nil
}

// TestWriteError checks that a failing write stops the pipeline cleanly.
func TestWriteError(t *testing.T) {
	ts := []tensorHeader{{name: "a", typ: Q8_0, ne: []int64{32 * 1024, 300}}} // ~10 chunks
	_, sizes, _, err := layout(ts, defaultAlignment)
	if err != nil {
		t.Fatal(err)
	}
	fill := func(ti int, row int64, dst []byte) {
		r := rowRNG(1, ti, row)
		fillRandomRow(dst, ts[ti].typ, ts[ti].ne[0], &r)
	}
	done := make(chan error)
	go func() { done <- writeData(bufio.NewWriterSize(&failWriter{left: 3 << 20}, 4096), ts, sizes, fill) }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("no error from a failing writer")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("writeData hangs after a write error")
	}
	if err := WriteRandomLlama(filepath.Join(t.TempDir(), "no", "such", "dir.gguf"), tinyOpts(t, F16, 0)); err == nil {
		t.Error("no error for a path in a missing directory")
	}
}
