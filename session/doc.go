// Package session drives a llama.cpp context with an H2O policy: it prefills
// prompts (exactly or in bounded chunks), decodes and samples tokens, feeds
// the attention scores to the policy and applies its evictions and position
// shifts to the KV cache.
//
// A Session is one sequence on its own context:
//
//	model, err := binding.LoadModel("model.gguf", binding.ModelParams{})
//	s, err := session.New(model, session.Options{
//		Policy: h2o.Config{Policy: h2o.H2O, Budget: 256, HeavyHitters: 128},
//	})
//	err = s.Feed(promptTokens)
//	res, err := s.Generate(session.GenOptions{MaxTokens: 200}, nil)
//	st := s.Stats() // cache use, evictions, prompt and generation speed
//
// A Batcher runs many sequences on one context, each with its own policy
// state and KV stream (continuous batching). AttendPrompt reports the
// attention a prompt's tokens receive, as the policy ranks them.
//
// Options say what to run; New resolves where: the KV cache types, whether
// flash attention runs (with scores, "auto" is on only with layers on a GPU
// and f16 keys, or keys rotated on read and f16 values) and how the attention scores are collected. Session.Options
// shows the result. The per-sequence policy state is either one set of kept
// tokens for all heads (granularity token, h2o.Tracker) or one per layer and
// KV head (granularity head, h2o.HeadTracker; a Session only).
package session
