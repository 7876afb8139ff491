package session

import (
	"fmt"
	"strings"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/internal/enum"
)

// PrefillMode says how a prompt enters an evicting cache.
type PrefillMode string

const (
	// PrefillChunked decodes the prompt chunk by chunk and evicts after each
	// chunk: the cache never exceeds Budget + Chunk cells, whatever the prompt length.
	PrefillChunked PrefillMode = "chunked"
	// PrefillFull attends the whole prompt exactly, then cuts the cache to the
	// budget (the reference recipe); needs cells for the whole prompt.
	PrefillFull PrefillMode = "full"
)

// ParsePrefillMode accepts chunked and full ("" = chunked).
func ParsePrefillMode(s string) (PrefillMode, error) {
	return enum.Parse("prefill mode", s, PrefillChunked, PrefillChunked, PrefillFull)
}

// Options configure a session.
type Options struct {
	Policy  h2o.Config  // as asked; see Resolved for what runs
	Prefill PrefillMode // "" = chunked, full with a prompt rule
	// Chunk is the prefill chunk (and micro-batch) size; 0 = 256.
	Chunk int
	// NCtx is the number of KV cells. 0 = the trained context for the full
	// policy or full prefill, Budget + Chunk for chunked eviction.
	NCtx    int
	Threads int
	// FlashAttn is on, off or auto ("" = auto). With scores, auto is on only
	// with GPU layers and f16 keys (or keys rotated on read, which reach it
	// in f16, and f16 values); without, llama.cpp picks by device support.
	FlashAttn    string
	TypeK, TypeV string // KV cache types; "" = f16, or f32 for K when rolling re-rotates keys in place at every step
	// KeyRotation says how position rolling reaches the cached keys:
	// on-read rotates each key by its cell's shift when attention reads it,
	// so stored keys never change; in-place re-rotates the stored keys at
	// every shift (llama.cpp's K-shift). auto ("") is on-read with layers on
	// a GPU and in-place on the CPU, unless the key type rotates on read only.
	KeyRotation KeyRotation
	// Scores selects how attention is reported; h2o needs it (default: one row
	// summed over layers and heads for the sum aggregation, else KV heads).
	Scores binding.ScoresMode
	// Profile, when set, times every graph node of the context (slow; see
	// binding.OpProfile).
	Profile *binding.OpProfile
	// HostHeads keeps per-head eviction's every step on the host (scores
	// copied back, ranked and applied by a graph of row moves), also where
	// the decode graph could replace the tokens itself (see headState).
	HostHeads bool

	policy       h2o.Resolved // Policy resolved by normalize
	gpu          bool         // the model has layers on a GPU (set by resolve)
	rotateOnRead bool         // the context rotates keys on read (set by normalize, after gpu)
}

// KeyRotation says how position shifts reach the cached keys.
type KeyRotation string

const (
	RotateAuto    KeyRotation = "auto"
	RotateOnRead  KeyRotation = "on-read"
	RotateInPlace KeyRotation = "in-place"
)

// ParseKeyRotation accepts auto, on-read and in-place ("" = auto).
func ParseKeyRotation(s string) (KeyRotation, error) {
	return enum.Parse("key rotation", s, RotateAuto, RotateAuto, RotateOnRead, RotateInPlace)
}

// Comparable are the options of runs whose results are compared across
// policies (perplexity, KL and top-1 agreement with a full cache) when
// flash attention was not chosen: off, so that every policy runs the
// attention code h2o's prompt scores need and the differences are the
// policies' own (flash attention accumulates V in f16).
func (o Options) Comparable() Options {
	o.FlashAttn = "off"
	return o
}

// Resolved is the policy that runs: Policy resolved (set by New, NewBatcher
// and PlanParallel; zero before).
func (o Options) Resolved() h2o.Resolved { return o.policy }

const defaultChunk = 256

// onGPU reports whether the model runs layers on a GPU device.
func onGPU(model *binding.Model) bool { return model.GPULayers() != 0 && binding.HasGPU() }

// resolve is normalize plus where the session runs (gpu: the model has
// layers on a GPU device): the context gets flash attention on, off, or
// auto only where llama.cpp may choose (no scores, or scores on a GPU).
func (o Options) resolve(gpu bool) (Options, error) {
	o.gpu = gpu
	o, err := o.normalize()
	if err != nil {
		return o, err
	}
	if o.FlashAttn == "" || o.FlashAttn == "auto" {
		o.FlashAttn = "auto"
		switch {
		case o.Scores != binding.ScoresOff && !gpu:
			// on the CPU the scores come from the plain attention path
			o.FlashAttn = "off"
		case gpu && o.rotateOnRead && o.TypeK != "f16" && (o.TypeV == "" || o.TypeV == "f16"):
			// Keys rotated on read reach flash attention in f16 whatever
			// the cache's key type, which llama.cpp's own choice, made on
			// the cache's types, cannot know; with f16 values the vector
			// kernel then runs, faster than the plain path
			// (docs/BENCHMARKS.md).
			o.FlashAttn = "on"
		}
	}
	return o, nil
}

func (o Options) normalize() (Options, error) {
	var err error
	o.FlashAttn = strings.ToLower(o.FlashAttn)
	if o.policy, err = o.Policy.Resolve(); err != nil {
		return o, err
	}
	if o.Prefill == "" {
		o.Prefill = PrefillChunked
		if o.policy.Prompt.Kind != "" {
			o.Prefill = PrefillFull
		}
	}
	if o.Chunk <= 0 {
		o.Chunk = defaultChunk
	}
	if o.policy.Granularity == h2o.PerHead {
		// each KV head ranks its tokens by the attention of its own query heads
		if o.Scores != binding.ScoresOff && o.Scores != binding.ScoresKVHead {
			return o, fmt.Errorf("granularity head needs per-KV-head scores")
		}
		o.Scores = binding.ScoresKVHead
		// Its row moves handle both V layouts. auto: flash attention on a
		// GPU, where the decode graph then makes the recipe's steps itself
		// (heads_graph.go); the plain path on the CPU and for the host's
		// steps (--heads-on-host).
		if o.FlashAttn == "" || o.FlashAttn == "auto" {
			o.FlashAttn = "off"
			if o.gpu && !o.HostHeads {
				o.FlashAttn = "on"
			}
		}
	}
	if o.policy.Prompt.Kind != "" {
		// the prompt rule cuts a prompt read whole, the observation window
		// as one decode of its own
		switch {
		case o.Prefill == PrefillChunked:
			return o, fmt.Errorf("prompt rule %s cuts a prompt read whole: it needs --prefill full", o.policy.Prompt)
		case o.policy.Granularity == h2o.PerHead:
			return o, fmt.Errorf("prompt rule %s ranks tokens: it needs granularity token", o.policy.Prompt)
		case o.policy.Prompt.Window > o.Chunk:
			return o, fmt.Errorf("prompt rule %s: the observation window exceeds the chunk of %d tokens", o.policy.Prompt, o.Chunk)
		}
		o.Prefill = PrefillFull
	}
	if (o.policy.NeedsScores() || o.policy.Prompt.Kind != "") && o.Scores == binding.ScoresOff {
		// Summed scores need only one row in all, summed over layers and
		// heads in the graph: the least data per token. The normalising
		// aggregations need each head's row.
		o.Scores = binding.ScoresKVHead
		if o.policy.Aggregate == h2o.AggSum {
			o.Scores = binding.ScoresTotal
		}
	}
	if o.KeyRotation, err = ParseKeyRotation(string(o.KeyRotation)); err != nil {
		return o, err
	}
	// Per-token rolling shifts a sequence's cells at every eviction. Per
	// head, each head re-rotates its own keys with its row moves.
	rolls := o.policy.Rolling && o.policy.Evicts() && o.policy.Granularity == h2o.PerToken
	o.TypeK = strings.ToLower(o.TypeK)
	shiftable := o.TypeK == "" || o.TypeK == "f32" || o.TypeK == "f16" // what the K-shift re-rotates
	switch o.KeyRotation {
	case RotateOnRead:
		o.rotateOnRead = rolls
	case RotateInPlace:
		if rolls && !shiftable {
			// llama.cpp's K-shift has no kernel for the others on every backend
			return o, fmt.Errorf("-ctk %s with --k-rotation in-place: keys re-rotated in place must be f32 or f16 (--k-rotation on-read rotates keys of any type)", o.TypeK)
		}
		o.rotateOnRead = false
	default:
		// With layers on a GPU the in-place K-shift, a pass over the whole
		// cache at every eviction, costs more than rotating the keys read;
		// on the CPU it costs less (docs/BENCHMARKS.md). Key types the
		// K-shift cannot re-rotate rotate on read anywhere.
		o.rotateOnRead = rolls && (o.gpu || !shiftable)
	}
	if o.TypeK == "" {
		o.TypeK = "f16"
		// Re-rotating surviving keys in place at every eviction accumulates
		// the rounding error of each rotation in f16 (docs/DESIGN.md). Per
		// head on a GPU with flash attention, the decode graph's steps (the
		// rules it can run) rotate keys on read and re-rotate them in place
		// only when the host takes over.
		graphHeads := o.gpu && o.policy.Granularity == h2o.PerHead && o.policy.SingleReplacement() && !o.HostHeads && o.FlashAttn == "on"
		if o.policy.Rolling && o.policy.Evicts() && !o.rotateOnRead && !graphHeads {
			o.TypeK = "f32"
		}
	}
	if o.policy.NeedsScores() && o.TypeK == "f32" && (o.FlashAttn == "" || o.FlashAttn == "auto") {
		// flash attention would convert the f32 keys to f16 at every decode,
		// which costs more than it saves (docs/BENCHMARKS.md)
		o.FlashAttn = "off"
	}
	return o, nil
}

// streamCells rounds a sequence's cells up to its KV stream's size: steps
// of 128 when the policy collects scores (flash attention's vector kernel,
// which gives them, steps through 128 cells; patch 0007), else of 256 (the
// other attention kernels need that on CUDA).
func (o Options) streamCells(trained int) int {
	step := 256
	if o.policy.NeedsScores() {
		step = 128
	}
	return (o.contextSize(trained) + step - 1) / step * step
}

// contextSize is the number of KV cells the session needs.
func (o Options) contextSize(trained int) int {
	if o.NCtx > 0 {
		return o.NCtx
	}
	if !o.policy.Evicts() || o.Prefill == PrefillFull {
		return max(trained, o.policy.Budget+o.Chunk)
	}
	return o.policy.Budget + o.Chunk
}
