package session

import (
	"math"
	"testing"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
)

// Flash attention under "auto": h2o keeps it (its decode steps take scores
// from the kernel's logits) unless the keys are f32, which the kernel would
// convert at every step (rolling's default); "on" is kept; per-head eviction
// runs without it unless asked, or with its layers on a GPU (where the decode
// graph replaces) unless the host steps (--heads-on-host).
func TestOptionsFlashAttn(t *testing.T) {
	hh := h2o.Config{Policy: h2o.H2O, Budget: 64, HeavyHitters: 32}
	roll := hh
	roll.Rolling = true
	head := hh
	head.Granularity = h2o.PerHead
	for _, tc := range []struct {
		policy   h2o.Config
		fa, want string
		typeK    string
		rot      KeyRotation
	}{
		{hh, "auto", "auto", "", ""},
		{hh, "", "", "", ""},
		{roll, "auto", "off", "", ""}, // on the CPU keys are re-rotated in place: f32
		{roll, "auto", "off", "", RotateInPlace},
		{roll, "auto", "auto", "f16", RotateInPlace},
		{roll, "on", "on", "", RotateInPlace},
		{hh, "auto", "off", "f32", ""},
		{head, "auto", "off", "", ""},
		{head, "", "off", "", ""},
		{head, "on", "on", "", ""},
		{h2o.Config{Policy: h2o.Full}, "auto", "auto", "f32", ""},
	} {
		o, err := Options{Policy: tc.policy, FlashAttn: tc.fa, TypeK: tc.typeK, KeyRotation: tc.rot}.normalize()
		if err != nil {
			t.Fatal(err)
		}
		if o.FlashAttn != tc.want {
			t.Errorf("%+v with -fa %q -ctk %q, keys rotated %s: flash attention %q, want %q", tc.policy, tc.fa, tc.typeK, o.KeyRotation, o.FlashAttn, tc.want)
		}
	}
	for _, tc := range []struct {
		policy    h2o.Config
		fa        string
		hostHeads bool
		want      string
	}{
		{head, "auto", false, "on"},
		{head, "", false, "on"},
		{head, "auto", true, "off"},
		{head, "off", false, "off"},
		{roll, "auto", false, "auto"}, // per token: llama.cpp picks on a GPU
	} {
		o, err := Options{Policy: tc.policy, FlashAttn: tc.fa, HostHeads: tc.hostHeads, gpu: true}.normalize()
		if err != nil {
			t.Fatal(err)
		}
		if o.FlashAttn != tc.want {
			t.Errorf("GPU, %+v with -fa %q, host heads %v: flash attention %q, want %q", tc.policy, tc.fa, tc.hostHeads, o.FlashAttn, tc.want)
		}
	}
}

// Where the model runs decides what auto means: with scores, on the CPU the
// plain attention path stays and on a GPU llama.cpp picks; without scores
// llama.cpp always picks. An explicit choice is kept, in any case.
func TestOptionsResolveFlashAttn(t *testing.T) {
	hh := h2o.Config{Policy: h2o.H2O, Budget: 64, HeavyHitters: 32}
	hhRoll := hh
	hhRoll.Rolling = true
	full := h2o.Config{Policy: h2o.Full}
	for _, tc := range []struct {
		o    Options
		gpu  bool
		want string
	}{
		{Options{Policy: hh}, false, "off"},
		{Options{Policy: hh, FlashAttn: "AUTO"}, false, "off"},
		{Options{Policy: hh}, true, "auto"},
		{Options{Policy: hh, FlashAttn: "on"}, false, "on"},
		{Options{Policy: hh, TypeK: "f32"}, true, "off"},
		{Options{Policy: full}, false, "auto"},
		{Options{Policy: full, Scores: binding.ScoresKVHead}, false, "off"},
		{Options{Policy: full, Scores: binding.ScoresKVHead}, true, "auto"},
		{Options{Policy: full, FlashAttn: "off"}, true, "off"},
		{Options{Policy: hh}.Comparable(), true, "off"},
		// quantized keys rotated on read reach flash attention in f16
		{Options{Policy: hhRoll, TypeK: "q8_0"}, true, "on"},
		{Options{Policy: hhRoll, TypeK: "Q4_0"}, true, "on"},
		{Options{Policy: hhRoll, TypeK: "q8_0", TypeV: "q8_0"}, true, "auto"},
		{Options{Policy: hhRoll, TypeK: "q8_0", FlashAttn: "off"}, true, "off"},
		{Options{Policy: hh, TypeK: "q8_0"}, true, "auto"}, // no rolling: the cache's keys
		{Options{Policy: hhRoll, TypeK: "q8_0"}, false, "off"},
		{Options{Policy: hhRoll}, true, "auto"}, // f16 keys: llama.cpp's choice is on
	} {
		o, err := tc.o.resolve(tc.gpu)
		if err != nil {
			t.Fatal(err)
		}
		if o.FlashAttn != tc.want || o.gpu != tc.gpu {
			t.Errorf("%+v on GPU %v: flash attention %q (GPU %v), want %q", tc.o.Policy, tc.gpu, o.FlashAttn, o.gpu, tc.want)
		}
	}
}

// Keys rotated on read: per-token rolling only, f16 keys by default; auto
// rotates on read with layers on a GPU, and on the CPU only key types that
// the in-place K-shift cannot re-rotate.
func TestOptionsKeyRotation(t *testing.T) {
	roll := h2o.Config{Policy: h2o.H2O, Budget: 64, HeavyHitters: 32, Rolling: true}
	head := roll
	head.Granularity = h2o.PerHead
	for _, tc := range []struct {
		policy h2o.Config
		rot    KeyRotation
		gpu    bool
		typeK  string
		onRead bool
		wantK  string
	}{
		{roll, "", false, "", false, "f32"},
		{roll, "", true, "", true, "f16"},
		{roll, "", false, "q8_0", true, "q8_0"},
		{roll, "", false, "BF16", true, "bf16"},
		{roll, RotateOnRead, false, "", true, "f16"},
		{roll, RotateInPlace, true, "", false, "f32"},
		{h2o.Config{Policy: h2o.H2O, Budget: 64, HeavyHitters: 32}, "", true, "", false, "f16"},
		{head, "", true, "", false, "f16"}, // the decode graph rotates on read (flash attention on by default)
		{h2o.Config{Policy: h2o.Full}, "", true, "", false, "f16"},
	} {
		o, err := Options{Policy: tc.policy, KeyRotation: tc.rot, TypeK: tc.typeK, gpu: tc.gpu}.normalize()
		if err != nil {
			t.Fatal(err)
		}
		if o.rotateOnRead != tc.onRead || o.TypeK != tc.wantK {
			t.Errorf("%+v, rotation %q, gpu %v, -ctk %q: on read %v, K %s; want %v, %s", tc.policy, tc.rot, tc.gpu, tc.typeK, o.rotateOnRead, o.TypeK, tc.onRead, tc.wantK)
		}
	}
	// per head with rolling: f16 keys where the decode graph rotates them on
	// read (a GPU, flash attention on, not --heads-on-host, a rule it runs)
	ema := head
	ema.Score = h2o.ScoreRule{Kind: "ema", Gamma: 0.9}
	if o, err := (Options{Policy: ema, gpu: true}).normalize(); err != nil || o.TypeK != "f32" {
		t.Errorf("per head rolling with ema scores on a GPU: K %s (%v), want f32: the host re-rotates every step", o.TypeK, err)
	}
	for _, tc := range []struct {
		gpu, hostHeads bool
		fa, wantK      string
	}{
		{true, false, "on", "f16"},
		{true, true, "on", "f32"},
		{true, false, "", "f16"},
		{true, true, "", "f32"},
		{false, false, "", "f32"},
		{false, false, "on", "f32"},
	} {
		o, err := Options{Policy: head, FlashAttn: tc.fa, HostHeads: tc.hostHeads, gpu: tc.gpu}.normalize()
		if err != nil {
			t.Fatal(err)
		}
		if o.TypeK != tc.wantK {
			t.Errorf("per head rolling, gpu %v, host heads %v, fa %q: K %s, want %s", tc.gpu, tc.hostHeads, tc.fa, o.TypeK, tc.wantK)
		}
	}
	if _, err := (Options{Policy: roll, KeyRotation: "sideways"}).normalize(); err == nil {
		t.Error("an unknown key rotation was accepted")
	}
	if _, err := (Options{Policy: roll, KeyRotation: RotateInPlace, TypeK: "q8_0"}).normalize(); err == nil {
		t.Error("q8_0 keys re-rotated in place were accepted")
	}
	if _, err := (Options{Policy: roll, TypeK: "q8_0"}).normalize(); err != nil {
		t.Errorf("q8_0 keys rotated on read: %v", err)
	}
}

// Rolling with keys re-rotated in place (llama.cpp's K-shift) can re-rotate
// f32 and f16 keys only: other K types are refused before a context exists,
// and accepted without rolling or without eviction.
func TestOptionsRollingKeyTypes(t *testing.T) {
	roll := h2o.Config{Policy: h2o.Window, Budget: 64, Rolling: true}
	still := roll
	still.Rolling = false
	for _, tc := range []struct {
		policy h2o.Config
		typeK  string
		ok     bool
	}{
		{roll, "f32", true}, {roll, "F16", true}, {roll, "", true},
		{roll, "bf16", false}, {roll, "q8_0", false}, {roll, "q4_0", false}, {roll, "iq4_nl", false},
		{still, "bf16", true}, {still, "q8_0", true},
		{h2o.Config{Policy: h2o.Full}, "bf16", true},
	} {
		_, err := Options{Policy: tc.policy, TypeK: tc.typeK, KeyRotation: RotateInPlace}.normalize()
		if (err == nil) != tc.ok {
			t.Errorf("%+v -ctk %q: err %v, want ok=%v", tc.policy, tc.typeK, err, tc.ok)
		}
	}
}

// Logits without a finite value (NaN weights) give no token, whatever the
// sampling; greedy takes the one finite logit among NaNs.
func TestSampleNotFinite(t *testing.T) {
	nan := float32(math.NaN())
	for _, cfg := range []Sampling{{}, {Temperature: 0.8, TopP: 0.9, Seed: 1}, {TopLogprobs: 2}} {
		if tok, _, _ := NewSampler(cfg).Sample([]float32{nan, nan, nan}); tok != -1 {
			t.Errorf("%+v: all NaN gave token %d", cfg, tok)
		}
		if tok, _, _ := NewSampler(cfg).Sample([]float32{float32(math.Inf(1)), 0}); tok != -1 {
			t.Errorf("%+v: +Inf gave token %d", cfg, tok)
		}
	}
	if tok, _, _ := NewSampler(Sampling{}).Sample([]float32{nan, 2, nan}); tok != 1 {
		t.Errorf("greedy: one finite logit gave token %d", tok)
	}
}
