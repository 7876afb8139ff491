package stream

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// Question is one MT-Bench question (FastChat's question.jsonl format).
type Question struct {
	ID       int
	Category string
	Turns    []string
}

// Turn is one user turn of a question: the unit the demo prompts with.
type Turn struct {
	QuestionID int
	Category   string
	Turn       int // 1-based within its question
	Text       string
}

// dataFiles are the names looked up in a directory: the recipe's
// data_root/mt_bench.jsonl, then FastChat's own name.
var dataFiles = []string{"mt_bench.jsonl", "question.jsonl"}

// ResolveInput maps --input-path to a JSONL file: a file is used as is, a
// directory must hold mt_bench.jsonl (as the recipe's data_root) or question.jsonl.
func ResolveInput(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("input %s: %w", path, err)
	}
	if !fi.IsDir() {
		return path, nil
	}
	for _, name := range dataFiles {
		p := filepath.Join(path, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("input %s: directory holds neither %s nor %s (MT-Bench questions, e.g. FastChat's mt_bench/question.jsonl)",
		path, dataFiles[0], dataFiles[1])
}

// Load reads MT-Bench questions from a JSONL file. Blank lines are skipped;
// a malformed line is reported as file:line: reason.
func Load(path string) ([]Question, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	qs, err := Parse(f, path)
	if err != nil {
		return nil, err
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("%s: no questions", path)
	}
	return qs, nil
}

// Parse reads questions from r; name prefixes error messages.
func Parse(r io.Reader, name string) ([]Question, error) {
	br := bufio.NewReader(r)
	var qs []Question
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if line == 1 {
			b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
		}
		if t := bytes.TrimSpace(b); len(t) > 0 {
			q, perr := parseQuestion(t)
			if perr != nil {
				return nil, fmt.Errorf("%s:%d: %v", name, line, perr)
			}
			qs = append(qs, q)
		}
		if err != nil { // io.EOF
			return qs, nil
		}
	}
}

func parseQuestion(b []byte) (Question, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Question{}, fmt.Errorf("want a JSON object with question_id and turns, got a JSON %s", te.Value)
		}
		return Question{}, fmt.Errorf("invalid JSON: %v", err)
	}
	var q Question
	id, ok := raw["question_id"]
	if !ok {
		return q, errors.New("missing question_id")
	}
	var n float64
	if err := json.Unmarshal(id, &n); err != nil || n != math.Trunc(n) || math.Abs(n) > math.MaxInt32 {
		return q, fmt.Errorf("question_id: want an integer, got %s", id)
	}
	q.ID = int(n)
	if c, ok := raw["category"]; ok && string(c) != "null" {
		if err := json.Unmarshal(c, &q.Category); err != nil {
			return q, fmt.Errorf("category: want a string, got %s", c)
		}
	}
	t, ok := raw["turns"]
	if !ok {
		return q, errors.New("missing turns")
	}
	var turns []json.RawMessage
	if err := json.Unmarshal(t, &turns); err != nil {
		return q, fmt.Errorf("turns: want an array of strings, got %s", t)
	}
	if len(turns) == 0 {
		return q, errors.New("turns: empty (want at least one turn)")
	}
	for i, r := range turns {
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			return q, fmt.Errorf("turns[%d]: want a string, got %s", i, r)
		}
		q.Turns = append(q.Turns, s)
	}
	return q, nil
}

// Flatten lists every turn of every question in order, as the recipe's
// `prompts += sample["turns"]` does.
func Flatten(qs []Question) []Turn {
	var out []Turn
	for _, q := range qs {
		for i, t := range q.Turns {
			out = append(out, Turn{QuestionID: q.ID, Category: q.Category, Turn: i + 1, Text: t})
		}
	}
	return out
}
