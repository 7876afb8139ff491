package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// LlamaShape is the shape of a Llama-architecture model.
type LlamaShape struct {
	NLayer, NEmbd, NHead, NHeadKV, NFF, NVocab, NCtx int
	RopeFreqBase                                     float32 // 0 means 10000
	NormEps                                          float32 // RMS norm epsilon; 0 means 1e-5
}

var presets = map[string]LlamaShape{
	"tiny":       {NLayer: 2, NEmbd: 64, NHead: 4, NHeadKV: 2, NFF: 128, NVocab: 512, NCtx: 512},
	"llama2-7b":  {NLayer: 32, NEmbd: 4096, NHead: 32, NHeadKV: 32, NFF: 11008, NVocab: 32000, NCtx: 4096},
	"llama3-8b":  {NLayer: 32, NEmbd: 4096, NHead: 32, NHeadKV: 8, NFF: 14336, NVocab: 128256, NCtx: 8192, RopeFreqBase: 500000},
	"llama2-13b": {NLayer: 40, NEmbd: 5120, NHead: 40, NHeadKV: 40, NFF: 13824, NVocab: 32000, NCtx: 4096},
	"llama2-70b": {NLayer: 80, NEmbd: 8192, NHead: 64, NHeadKV: 8, NFF: 28672, NVocab: 32000, NCtx: 4096},
}

// Preset returns a named shape: "tiny" (2 layers, n_embd 64, 4 heads, 2 KV
// heads, n_ff 128, vocab 512, ctx 512), "llama2-7b", "llama2-13b",
// "llama2-70b" (8 KV heads) or "llama3-8b" (the real models' shapes;
// llama3-8b has rope freq_base 500000, but a SentencePiece vocabulary of
// 128256 synthetic tokens instead of the real BPE one).
func Preset(name string) (LlamaShape, error) {
	s, ok := presets[name]
	if !ok {
		return LlamaShape{}, fmt.Errorf("gguf: unknown preset %q (have %s)", name, strings.Join(PresetNames(), ", "))
	}
	return s, nil
}

// PresetNames lists the preset names, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// withDefaults fills in the zero-valued optional fields.
func (s LlamaShape) withDefaults() LlamaShape {
	if s.RopeFreqBase == 0 {
		s.RopeFreqBase = 10000
	}
	if s.NormEps == 0 {
		s.NormEps = 1e-5
	}
	return s
}

func (s LlamaShape) validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"NLayer", s.NLayer}, {"NEmbd", s.NEmbd}, {"NHead", s.NHead}, {"NHeadKV", s.NHeadKV}, {"NFF", s.NFF}, {"NVocab", s.NVocab}, {"NCtx", s.NCtx}} {
		if f.v <= 0 || f.v > math.MaxUint32 {
			return fmt.Errorf("gguf: %s = %d must be in [1, 2^32)", f.name, f.v)
		}
	}
	switch {
	case s.NEmbd%s.NHead != 0:
		return fmt.Errorf("gguf: n_embd %d is not divisible by n_head %d", s.NEmbd, s.NHead)
	case (s.NEmbd/s.NHead)%2 != 0:
		return fmt.Errorf("gguf: head dimension %d (n_embd/n_head) must be even for RoPE", s.NEmbd/s.NHead)
	case s.NHead%s.NHeadKV != 0:
		return fmt.Errorf("gguf: n_head %d is not a multiple of n_head_kv %d", s.NHead, s.NHeadKV)
	case s.NVocab < nFixedTokens:
		return fmt.Errorf("gguf: n_vocab %d is too small (need at least %d: <unk>, <s>, </s> and 256 byte tokens)", s.NVocab, nFixedTokens)
	case !(s.RopeFreqBase > 0) || !(s.NormEps > 0):
		return fmt.Errorf("gguf: rope freq base %g and norm eps %g must be positive", s.RopeFreqBase, s.NormEps)
	}
	return nil
}

// LlamaOptions says what WriteRandomLlama writes.
type LlamaOptions struct {
	Shape LlamaShape
	Type  TensorType // type of the 2-D weights, token_embd and output included; norms are F32
	Seed  int64
	Name  string // general.name; empty means "random-llama"
	// ChatTemplate, when set, is written as tokenizer.chat_template (the
	// Jinja text that llama.cpp recognises a chat format by).
	ChatTemplate string
}

// tensors returns the tensor list in the order of llama.cpp's converter
// (as in stories260K.gguf): token_embd, the blocks, output_norm, output.
// ones[i] marks the F32 norm weights, which are filled with 1.
func (o LlamaOptions) tensors() (ts []tensorHeader, ones []bool) {
	s := o.Shape
	embd, ff, vocab := int64(s.NEmbd), int64(s.NFF), int64(s.NVocab)
	gqa := embd / int64(s.NHead) * int64(s.NHeadKV) // n_embd_k_gqa = n_embd_v_gqa
	add := func(name string, norm bool, ne ...int64) {
		t := o.Type
		if norm {
			t = F32
		}
		ts = append(ts, tensorHeader{name: name, typ: t, ne: ne})
		ones = append(ones, norm)
	}
	add("token_embd.weight", false, embd, vocab)
	for i := 0; i < s.NLayer; i++ {
		p := fmt.Sprintf("blk.%d.", i)
		add(p+"attn_norm.weight", true, embd)
		add(p+"attn_q.weight", false, embd, embd)
		add(p+"attn_k.weight", false, embd, gqa)
		add(p+"attn_v.weight", false, embd, gqa)
		add(p+"attn_output.weight", false, embd, embd)
		add(p+"ffn_norm.weight", true, embd)
		add(p+"ffn_gate.weight", false, embd, ff)
		add(p+"ffn_down.weight", false, ff, embd)
		add(p+"ffn_up.weight", false, embd, ff)
	}
	add("output_norm.weight", true, embd)
	add("output.weight", false, embd, vocab)
	return ts, ones
}

// metadata returns the key/value pairs, mirroring llama.cpp's converter.
func (o LlamaOptions) metadata() ([]KV, error) {
	s := o.Shape
	tokens, scores, types, err := llamaVocab(s.NVocab)
	if err != nil {
		return nil, err
	}
	name := o.Name
	if name == "" {
		name = "random-llama"
	}
	u := func(v int) uint32 { return uint32(v) }
	kvs := []KV{
		kv("general.architecture", "llama"),
		kv("general.name", name),
		kv("general.description", fmt.Sprintf("random weights (seed %d), written by github.com/h2o-kv/h2o/gguf", o.Seed)),
		kv("general.alignment", uint32(defaultAlignment)),
		kv("general.file_type", fileType(o.Type)),
		kv("llama.context_length", u(s.NCtx)),
		kv("llama.embedding_length", u(s.NEmbd)),
		kv("llama.block_count", u(s.NLayer)),
		kv("llama.feed_forward_length", u(s.NFF)),
		kv("llama.rope.dimension_count", u(s.NEmbd/s.NHead)),
		kv("llama.attention.head_count", u(s.NHead)),
		kv("llama.attention.head_count_kv", u(s.NHeadKV)),
		kv("llama.attention.layer_norm_rms_epsilon", s.NormEps),
		kv("llama.rope.freq_base", s.RopeFreqBase),
		kv("llama.vocab_size", u(s.NVocab)),
		kv("tokenizer.ggml.model", "llama"),
		kv("tokenizer.ggml.tokens", tokens),
		kv("tokenizer.ggml.scores", scores),
		kv("tokenizer.ggml.token_type", types),
		kv("tokenizer.ggml.unknown_token_id", uint32(0)),
		kv("tokenizer.ggml.bos_token_id", uint32(1)),
		kv("tokenizer.ggml.eos_token_id", uint32(2)),
		kv("tokenizer.ggml.add_bos_token", true),
		kv("tokenizer.ggml.add_eos_token", false),
		kv("tokenizer.ggml.add_space_prefix", true),
	}
	if o.ChatTemplate != "" {
		kvs = append(kvs, kv("tokenizer.chat_template", o.ChatTemplate))
	}
	if o.Type == Q8_0 || o.Type == Q4_0 {
		kvs = append(kvs, kv("general.quantization_version", uint32(2))) // GGML_QNT_VERSION
	}
	return kvs, nil
}

// prepare validates the options and returns the metadata and tensors.
func (o *LlamaOptions) prepare() ([]KV, []tensorHeader, []bool, error) {
	o.Shape = o.Shape.withDefaults()
	if err := o.Shape.validate(); err != nil {
		return nil, nil, nil, err
	}
	if !o.Type.writable() {
		return nil, nil, nil, fmt.Errorf("gguf: cannot write tensor type %s (want f32, f16, q8_0 or q4_0)", o.Type)
	}
	ts, ones := o.tensors()
	if _, _, _, err := layout(ts, defaultAlignment); err != nil {
		return nil, nil, nil, err
	}
	kvs, err := o.metadata()
	return kvs, ts, ones, err
}

// ParamCount returns the number of weights (all tensors, norms included;
// output.weight is not tied to token_embd), or 0 if the shape is invalid.
func (o LlamaOptions) ParamCount() int64 {
	if o.Shape.withDefaults().validate() != nil {
		return 0
	}
	ts, _ := o.tensors()
	var n int64
	for _, t := range ts {
		e := int64(1)
		for _, d := range t.ne {
			e *= d
		}
		n += e
	}
	return n
}

// FileSize returns the exact size of the file WriteRandomLlama would write.
func (o LlamaOptions) FileSize() (int64, error) {
	kvs, ts, _, err := o.prepare()
	if err != nil {
		return 0, err
	}
	offsets, _, data, _ := layout(ts, defaultAlignment)
	bw := bufio.NewWriter(io.Discard)
	return writeHeader(bw, kvs, ts, offsets, defaultAlignment) + data, nil
}

// WriteRandomLlama writes a Llama-architecture GGUF v3 model with random
// weights (deterministic for a given Seed) that llama.cpp can load and run.
// The weights have a standard deviation near 0.02 (quantized types get random
// quants and random block scales directly), norm weights are 1. The file is
// streamed: data is generated in chunks of about 1 MiB of whole rows by
// runtime.NumCPU() goroutines and written in order.
func WriteRandomLlama(path string, opt LlamaOptions) error {
	kvs, ts, ones, err := opt.prepare()
	if err != nil {
		return err
	}
	var one [4]byte
	binary.LittleEndian.PutUint32(one[:], math.Float32bits(1))
	fill := func(ti int, row int64, dst []byte) {
		if ones[ti] {
			for i := 0; i < len(dst); i += 4 {
				copy(dst[i:], one[:])
			}
			return
		}
		r := rowRNG(opt.Seed, ti, row)
		fillRandomRow(dst, ts[ti].typ, ts[ti].ne[0], &r)
	}
	return writeFile(path, kvs, ts, fill)
}
