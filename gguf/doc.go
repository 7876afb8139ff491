// Package gguf writes GGUF v3 files of Llama-architecture models with seeded
// random weights, and reads GGUF headers back.
//
// Why: the speed of llama.cpp (and of KV-cache policies built on it) depends
// on the shapes and tensor types of a model, not on the values of its
// weights. Random models of the real shapes (a 7B/8B in F16, Q8_0 or Q4_0)
// let us benchmark without downloading multi-GB models; they load and decode
// in llama.cpp, producing gibberish at full speed.
//
// The layout mirrors what llama.cpp's converter writes for the "llama"
// architecture with a SentencePiece ("llama") tokenizer (compare
// stories260K.gguf): general.* and llama.* hyper-parameters, a vocabulary of
// <unk>, <s>, </s>, 256 byte tokens and synthetic pieces, then the tensors
// token_embd, blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output,
// ffn_norm, ffn_gate, ffn_down, ffn_up}, output_norm and output, with data
// aligned to 32 bytes. Files are streamed: chunks of rows are generated in
// parallel and written in order, so memory use stays small whatever the
// model size.
//
// ReadInfo reads the metadata and tensor infos of any GGUF v2/v3 file and
// checks them like llama.cpp's loader does; it is used by the tests and can
// inspect real models.
package gguf
