package session

import (
	"strings"
	"time"
)

// GenOptions bound one generation.
type GenOptions struct {
	MaxTokens int      // new tokens at most (0 = until EOS or the context ends)
	Stop      []string // generation ends at the first stop string, which is cut
	Sampling  Sampling
	// TextOnly keeps only the text (and the token count): no per-token
	// records, so memory grows by the text alone in a long generation.
	TextOnly bool
}

// FinishReason says why a generation ended.
type FinishReason string

const (
	FinishStop   FinishReason = "stop"   // EOS or a stop string
	FinishLength FinishReason = "length" // MaxTokens reached
)

// Result is one generation.
type Result struct {
	Text        string // generated text, cut at the first stop string
	NTokens     int    // tokens generated
	Tokens      []int32
	Pieces      []string // text of each token
	Logprobs    []float64
	TopLogprobs [][]TokenLogprob // per token, if Sampling.TopLogprobs > 0
	Offsets     []int            // byte offset of each piece in the generated text
	Finish      FinishReason
	Duration    time.Duration
}

// Generate samples up to opts.MaxTokens tokens after the current cache (call
// Feed with the prompt first). onPiece, if set, receives each token's text as
// it is produced and may return false to stop.
func (s *Session) Generate(opts GenOptions, onPiece func(piece string) bool) (Result, error) {
	start := time.Now()
	res := Result{Finish: FinishLength}
	sampler := NewSampler(opts.Sampling)
	var text strings.Builder
	for n := 0; opts.MaxTokens <= 0 || n < opts.MaxTokens; n++ {
		logits := s.Logits()
		if logits == nil {
			break
		}
		tok, lp, top := sampler.Sample(logits)
		if s.model.IsEOG(tok) {
			res.Finish = FinishStop
			break
		}
		piece := s.model.Piece(tok, false)
		res.NTokens++
		if !opts.TextOnly {
			res.Tokens = append(res.Tokens, tok)
			res.Pieces = append(res.Pieces, piece)
			res.Logprobs = append(res.Logprobs, lp)
			if top != nil {
				res.TopLogprobs = append(res.TopLogprobs, top)
			}
			res.Offsets = append(res.Offsets, text.Len())
		}
		prev := text.Len()
		text.WriteString(piece)
		// No stop string was in the text before this piece: only a window
		// ending in the new piece can hold one (no rescan of the whole text).
		if cut, ok := cutAtStop(text.String(), opts.Stop, max(0, prev-maxLen(opts.Stop)+1)); ok {
			res.Text = cut
			res.Finish = FinishStop
			res.Duration = time.Since(start)
			return res, nil
		}
		if onPiece != nil && !onPiece(piece) {
			res.Finish = FinishStop
			break
		}
		if err := s.Step(tok); err != nil {
			res.Text = text.String()
			res.Duration = time.Since(start)
			return res, err
		}
	}
	res.Text = text.String()
	res.Duration = time.Since(start)
	return res, nil
}

// cutAtStop cuts text at the earliest stop string it contains at or after byte from.
func cutAtStop(text string, stops []string, from int) (string, bool) {
	cut := -1
	for _, st := range stops {
		if st == "" {
			continue
		}
		if i := strings.Index(text[from:], st); i >= 0 && (cut < 0 || from+i < cut) {
			cut = from + i
		}
	}
	if cut < 0 {
		return text, false
	}
	return text[:cut], true
}

func maxLen(ss []string) int {
	n := 0
	for _, s := range ss {
		n = max(n, len(s))
	}
	return n
}
