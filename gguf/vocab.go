package gguf

import (
	"fmt"
	"strconv"
)

// Token types (enum llama_token_type).
const (
	tokNormal  int32 = 1
	tokUnknown int32 = 2
	tokControl int32 = 3
	tokByte    int32 = 6
)

// nFixedTokens is <unk>, <s>, </s> and the 256 byte tokens.
const nFixedTokens = 3 + 256

// commonPieces are English-ish SentencePiece pieces ("▁" marks a word start).
var commonPieces = []string{
	"▁the", "▁and", "▁to", "▁of", "▁a", "▁in", "▁is", "▁that", "▁it", "▁was",
	"▁for", "▁on", "▁with", "▁as", "▁he", "▁she", "▁they", "▁we", "▁you", "▁I",
	"▁be", "▁at", "▁by", "▁this", "▁had", "▁not", "▁are", "▁but", "▁from", "▁or",
	"▁have", "▁an", "▁his", "▁her", "▁their", "▁one", "▁all", "▁were", "▁there", "▁can",
	"▁will", "▁so", "▁if", "▁what", "▁when", "▁up", "▁out", "▁do", "▁said", "▁about",
	"▁time", "▁day", "▁little", "▁big", "▁very", "▁like", "▁into", "▁then", "▁would", "▁could",
	"▁The", "▁A", "▁He", "▁She", "▁They", "▁It", "▁Once", "▁upon", "▁happy", "▁play",
	"▁friend", "▁house", "▁model", "▁data", "▁file", "▁value", "▁return", "▁function", "▁list", "▁user",
	"ing", "ed", "er", "es", "ly", "ion", "tion", "al", "en", "re",
	"an", "on", "at", "or", "in", "ar", "le", "st", "ent", "ers",
	"ic", "ity", "ous", "ive", "ment", "ness", "able", "ful", "less", "est",
	",", ".", "!", "?", ":", ";", "'", "\"", "(", ")",
	"-", "_", "/", "=", "+", "*", "<", ">", "[", "]",
	"{", "}", "#", "$", "%", "&", "@", "|", "~", "`",
	"▁,", "▁.", "▁(", "▁=", "▁-", "▁\"", "▁'", "▁{", "▁}", "▁#",
	"▁▁", "▁▁▁▁", "▁▁▁▁▁▁▁▁", "\n▁", ".\n", ",▁", ".▁",
}

// llamaVocab builds a SentencePiece ("llama") vocabulary of n tokens:
// <unk>, <s>, </s>, the byte tokens <0x00>..<0xFF>, "▁", "▁" + letters and
// digits, single letters and digits, common pieces, then "▁tok<k>" pieces.
// All tokens are unique; normal pieces have descending scores.
func llamaVocab(n int) (tokens []string, scores []float32, types []int32, err error) {
	if n < nFixedTokens {
		return nil, nil, nil, fmt.Errorf("gguf: vocabulary of %d tokens is too small (need at least %d for <unk>, <s>, </s> and 256 byte tokens)", n, nFixedTokens)
	}
	tokens = make([]string, 0, n)
	scores = make([]float32, 0, n)
	types = make([]int32, 0, n)
	seen := make(map[string]bool, n)
	add := func(tok string, typ int32, score float32) {
		if len(tokens) < n && !seen[tok] {
			seen[tok] = true
			tokens = append(tokens, tok)
			types = append(types, typ)
			scores = append(scores, score)
		}
	}
	add("<unk>", tokUnknown, 0)
	add("<s>", tokControl, 0)
	add("</s>", tokControl, 0)
	for b := 0; b < 256; b++ {
		add(fmt.Sprintf("<0x%02X>", b), tokByte, 0)
	}
	normal := func(tok string) { add(tok, tokNormal, float32(nFixedTokens-1-len(tokens))) }
	normal("▁")
	const chars = "etaoinshrdlucmfwypvbgkjqxzETAOINSHRDLUCMFWYPVBGKJQXZ0123456789"
	for _, c := range chars {
		normal("▁" + string(c))
	}
	for _, c := range chars {
		normal(string(c))
	}
	for _, p := range commonPieces {
		normal(p)
	}
	for k := 0; len(tokens) < n; k++ {
		normal("▁tok" + strconv.Itoa(k))
	}
	return tokens, scores, types, nil
}
