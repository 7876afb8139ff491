// Package eval measures the quality of KV-cache policies on text: the
// perplexity of every token read in streaming order (the cache evolves
// exactly as in generation), and, against a full cache run in lockstep on
// the same tokens, the KL divergence of the next-token distributions and
// the agreement of their top-1 tokens.
package eval

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/h2o-kv/h2o/binding"
)

// ErrNoInput is returned when there is nothing to evaluate: no input paths,
// empty directories, or documents with fewer than two tokens.
var ErrNoInput = errors.New("no text to evaluate")

// Input is one text document.
type Input struct {
	Name string
	Text string
}

// ReadInputs reads the files named by paths, in order; a directory gives its
// regular files in name order (hidden files and subdirectories skipped).
// maxDocs > 0 keeps only the first maxDocs documents.
func ReadInputs(paths []string, maxDocs int) ([]Input, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w: no input files or directories given", ErrNoInput)
	}
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("input: %w", err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("input: %w", err)
		}
		var names []string
		for _, e := range ents {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				names = append(names, e.Name())
			}
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("%w: directory %s holds no files", ErrNoInput, p)
		}
		sort.Strings(names)
		for _, n := range names {
			files = append(files, filepath.Join(p, n))
		}
	}
	if maxDocs > 0 && len(files) > maxDocs {
		files = files[:maxDocs]
	}
	out := make([]Input, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("input: %w", err)
		}
		if err := checkText(b); err != nil {
			return nil, fmt.Errorf("input %s: %w", f, err)
		}
		out = append(out, Input{Name: f, Text: string(b)})
	}
	return out, nil
}

// checkText refuses binary data (a NUL byte or invalid UTF-8 in the first
// 64 KiB), which would otherwise be scored as text without a word.
func checkText(b []byte) error {
	head := b
	if len(head) > 64<<10 {
		head = head[:64<<10]
		// do not count a rune cut by the limit
		for k := 0; k < utf8.UTFMax-1 && !utf8.RuneStart(b[len(head)]); k++ {
			head = head[:len(head)-1]
		}
	}
	if i := bytes.IndexByte(head, 0); i >= 0 {
		return fmt.Errorf("not text: a NUL byte at offset %d", i)
	}
	for off := 0; off < len(head); {
		r, n := utf8.DecodeRune(head[off:])
		if r == utf8.RuneError && n == 1 {
			return fmt.Errorf("not text: invalid UTF-8 at offset %d", off)
		}
		off += n
	}
	return nil
}

// Doc is a tokenised document. The first Prefix tokens (BOS and the first
// text token, or the prompt of TokenizeOptions.PromptTokens) are fed before
// scoring; every later token is predicted.
type Doc struct {
	Name   string
	Tokens []int32
	Prefix int
}

// Scored is the number of tokens whose negative log-likelihood is measured.
func (d Doc) Scored() int { return max(len(d.Tokens)-d.Prefix, 0) }

// TokenizeOptions select and cut documents.
type TokenizeOptions struct {
	MaxTokens int // keep the first MaxTokens tokens of each document (0 = all; BOS counts)
	MinTokens int // skip documents of fewer tokens than this (BOS included, before the cut)
	MaxDocs   int // keep the first MaxDocs documents that pass MinTokens (0 = all)
	// PromptTokens > 0 makes the first PromptTokens tokens (BOS included)
	// the prefix, fed at once as a prompt; shorter documents are skipped.
	PromptTokens int
}

// Tokenize turns inputs into documents (BOS added when the model wants it).
// Documents with nothing to score (empty, or one token) or shorter than
// MinTokens are skipped and named in skipped; no document left is an error.
func Tokenize(m *binding.Model, inputs []Input, o TokenizeOptions) (docs []Doc, skipped []string, err error) {
	info := m.Info()
	for _, in := range inputs {
		if o.MaxDocs > 0 && len(docs) == o.MaxDocs {
			break
		}
		toks, err := m.Tokenize(in.Text, true, false)
		if err != nil {
			return nil, nil, fmt.Errorf("tokenize %s: %w", in.Name, err)
		}
		prefix := 1
		if info.AddBOS && len(toks) > 0 && toks[0] == info.BOS {
			prefix = 2
		}
		prefix = max(prefix, o.PromptTokens)
		if len(toks) < o.MinTokens || len(toks) <= prefix {
			skipped = append(skipped, fmt.Sprintf("%s (%d tokens)", in.Name, len(toks)))
			continue
		}
		if o.MaxTokens > 0 && len(toks) > o.MaxTokens {
			toks = toks[:max(o.MaxTokens, prefix+1)]
		}
		docs = append(docs, Doc{Name: in.Name, Tokens: toks, Prefix: prefix})
	}
	if len(docs) == 0 {
		return nil, skipped, fmt.Errorf("%w: every document is empty or too short (%s)", ErrNoInput, strings.Join(skipped, ", "))
	}
	return docs, skipped, nil
}

// Covered is docs cut to their first n scored positions, in order: what an
// interrupted Run measured.
func Covered(docs []Doc, n int) []Doc {
	var out []Doc
	for _, d := range docs {
		if n <= 0 {
			break
		}
		k := min(d.Scored(), n)
		n -= k
		d.Tokens = d.Tokens[:d.Prefix+k]
		out = append(out, d)
	}
	return out
}

// Concat joins inputs into one document (separated by blank lines), to make
// a text longer than the model's trained context from short ones.
func Concat(inputs []Input) Input {
	texts := make([]string, len(inputs))
	for i, in := range inputs {
		texts[i] = strings.TrimSpace(in.Text)
	}
	name := "(empty)"
	if len(inputs) > 0 {
		name = fmt.Sprintf("%s + %d more (joined)", inputs[0].Name, len(inputs)-1)
	}
	return Input{Name: name, Text: strings.Join(texts, "\n\n") + "\n"}
}
