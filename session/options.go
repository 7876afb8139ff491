// Package session drives a llama.cpp context with an H2O policy: it prefills
// prompts (exactly or in bounded chunks), decodes and samples tokens, feeds
// the attention scores to the policy and applies its evictions and position
// shifts to the KV cache.
package session

import (
	"fmt"
	"strings"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
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

// ParsePrefillMode accepts chunked and full.
func ParsePrefillMode(s string) (PrefillMode, error) {
	switch m := PrefillMode(strings.ToLower(s)); m {
	case PrefillChunked, PrefillFull:
		return m, nil
	case "":
		return PrefillChunked, nil
	}
	return "", fmt.Errorf("prefill mode %q: want chunked or full", s)
}

// Options configure a session.
type Options struct {
	Policy  h2o.Config
	Prefill PrefillMode
	// Chunk is the prefill chunk (and micro-batch) size; 0 = 256.
	Chunk int
	// NCtx is the number of KV cells. 0 = the trained context for the full
	// policy or full prefill, Budget + Chunk for chunked eviction.
	NCtx         int
	Threads      int
	FlashAttn    string // on/off/auto (with scores, auto is on only with GPU layers)
	TypeK, TypeV string // KV cache types; "" = f16, or f32 for K when rolling (see docs)
	// Scores selects how attention is reported; h2o needs it (default: one row
	// summed over layers and heads for the sum aggregation, else KV heads).
	Scores binding.ScoresMode
	// Profile, when set, times every graph node of the context (slow; see
	// binding.OpProfile).
	Profile *binding.OpProfile
}

const defaultChunk = 256

func (o Options) normalize() (Options, error) {
	var err error
	if o.Policy, err = o.Policy.Normalize(); err != nil {
		return o, err
	}
	if o.Prefill == "" {
		o.Prefill = PrefillChunked
	}
	if o.Chunk <= 0 {
		o.Chunk = defaultChunk
	}
	if o.Policy.Granularity == h2o.PerHead {
		// each KV head ranks its tokens by the attention of its own query heads
		if o.Scores != binding.ScoresOff && o.Scores != binding.ScoresKVHead {
			return o, fmt.Errorf("granularity head needs per-KV-head scores")
		}
		o.Scores = binding.ScoresKVHead
		// its row moves are tested on the transposed V of the plain path
		if o.FlashAttn == "on" {
			return o, fmt.Errorf("granularity head runs with flash attention off")
		}
		o.FlashAttn = "off"
	}
	if o.Policy.NeedsScores() && o.Scores == binding.ScoresOff {
		// Summed scores need only one row in all, summed over layers and
		// heads in the graph: the least data per token. The normalising
		// aggregations need each head's row.
		o.Scores = binding.ScoresKVHead
		if o.Policy.Aggregate == h2o.AggSum {
			o.Scores = binding.ScoresTotal
		}
	}
	if o.TypeK == "" {
		o.TypeK = "f16"
		// Rolling re-rotates surviving keys at every eviction; in f16 the
		// rounding error of each rotation accumulates (docs/DESIGN.md).
		if o.Policy.Rolling && o.Policy.Evicts() {
			o.TypeK = "f32"
		}
	}
	if o.Policy.NeedsScores() && o.TypeK == "f32" && (o.FlashAttn == "" || o.FlashAttn == "auto") {
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
	if o.Policy.NeedsScores() {
		step = 128
	}
	return (o.contextSize(trained) + step - 1) / step * step
}

// contextSize is the number of KV cells the session needs.
func (o Options) contextSize(trained int) int {
	if o.NCtx > 0 {
		return o.NCtx
	}
	if !o.Policy.Evicts() || o.Prefill == PrefillFull {
		return max(trained, o.Policy.Budget+o.Chunk)
	}
	return o.Policy.Budget + o.Chunk
}
