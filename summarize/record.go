package summarize

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/h2o-kv/h2o/rouge"
)

// Record is one request line of the input JSONL, as the recipe reads it.
type Record struct {
	Raw  json.RawMessage // the line as written, echoed as "request"
	File string
	Line int // 1-based line number in File

	Article     string // the prompt, verbatim
	SummaryGT   string // the reference summary
	MaxTokens   int
	Temperature float64
	TopP        float64
	N           int
	Stop        []string
}

// Where is "file:line" of the record.
func (r Record) Where() string { return fmt.Sprintf("%s:%d", r.File, r.Line) }

// requiredFields are the request keys the recipe reads (n must be 1: the
// recipe squeezes the batch, so it only works with one sequence).
var requiredFields = []string{"article", "summary_gt", "max_tokens", "temperature", "top_p", "n", "stop"}

// LineError is a malformed input line.
type LineError struct {
	File   string
	Line   int
	Reason string
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason) }

// ReadRecords reads every request of a JSONL file. Blank lines are ignored,
// as in the recipe. A malformed line stops the reading with a *LineError,
// unless skipBad is set: then it is left out and returned in bad.
func ReadRecords(path string, skipBad bool) (recs []Record, bad []*LineError, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return readRecords(f, path, skipBad)
}

func readRecords(r io.Reader, name string, skipBad bool) ([]Record, []*LineError, error) {
	var recs []Record
	var bad []*LineError
	br := bufio.NewReaderSize(r, 1<<20)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			rec, perr := ParseRecord(line, name, n)
			switch {
			case perr == nil:
				recs = append(recs, rec)
			case errors.Is(perr, errBlank):
			case skipBad:
				bad = append(bad, perr.(*LineError))
			default:
				return nil, nil, perr
			}
		}
		if err == io.EOF {
			return recs, bad, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
	}
}

var errBlank = errors.New("blank line")

// ParseRecord parses one input line. It returns errBlank for a line of
// white space and a *LineError naming every problem otherwise.
func ParseRecord(line []byte, file string, n int) (Record, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return Record{}, errBlank
	}
	fail := func(format string, a ...any) (Record, error) {
		return Record{}, &LineError{File: file, Line: n, Reason: fmt.Sprintf(format, a...)}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		return fail("not a JSON object: %v", err)
	}
	if missing := missingFields(fields); len(missing) > 0 {
		return fail("missing field%s %s", plural(len(missing)), strings.Join(missing, ", "))
	}
	rec := Record{Raw: json.RawMessage(bytes.Clone(line)), File: file, Line: n}
	if err := rec.decodeFields(fields); err != nil {
		return fail("%v", err)
	}
	if err := rec.check(); err != nil {
		return fail("%v", err)
	}
	return rec, nil
}

func missingFields(fields map[string]json.RawMessage) []string {
	var missing []string
	for _, k := range requiredFields {
		if v, ok := fields[k]; !ok || string(v) == "null" {
			missing = append(missing, fmt.Sprintf("%q", k))
		}
	}
	return missing
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// decodeFields fills the typed fields, naming the field that does not fit.
func (r *Record) decodeFields(f map[string]json.RawMessage) error {
	var maxTok, n float64
	steps := []struct {
		key string
		dst any
	}{
		{"article", &r.Article}, {"summary_gt", &r.SummaryGT}, {"max_tokens", &maxTok},
		{"temperature", &r.Temperature}, {"top_p", &r.TopP}, {"n", &n},
	}
	for _, s := range steps {
		if err := json.Unmarshal(f[s.key], s.dst); err != nil {
			return fmt.Errorf("field %q: want %s, got %s", s.key, kind(s.dst), shorten(f[s.key]))
		}
	}
	var err error
	if r.MaxTokens, err = integer("max_tokens", maxTok); err != nil {
		return err
	}
	if r.N, err = integer("n", n); err != nil {
		return err
	}
	r.Stop, err = decodeStop(f["stop"])
	return err
}

func kind(dst any) string {
	if _, ok := dst.(*string); ok {
		return "a string"
	}
	return "a number"
}

func integer(key string, v float64) (int, error) {
	if v != math.Trunc(v) || math.Abs(v) > 1<<31 {
		return 0, fmt.Errorf("field %q: want an integer, got %v", key, v)
	}
	return int(v), nil
}

// decodeStop accepts a list of strings or one string (as OpenAI's API does).
func decodeStop(raw json.RawMessage) ([]string, error) {
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	return nil, fmt.Errorf("field \"stop\": want a list of strings, got %s", shorten(raw))
}

func shorten(raw json.RawMessage) string {
	const max = 40
	if len(raw) > max {
		return string(raw[:max]) + "..."
	}
	return string(raw)
}

// check rejects values the generation cannot honour.
func (r *Record) check() error {
	switch {
	case r.MaxTokens < 1:
		return fmt.Errorf("field \"max_tokens\": want at least 1, got %d", r.MaxTokens)
	case r.N != 1:
		return fmt.Errorf("field \"n\": only n = 1 is supported (the recipe squeezes the batch), got %d", r.N)
	case r.Temperature < 0 || math.IsNaN(r.Temperature):
		return fmt.Errorf("field \"temperature\": want >= 0, got %v", r.Temperature)
	case !(r.TopP > 0 && r.TopP <= 1):
		return fmt.Errorf("field \"top_p\": want 0 < top_p <= 1, got %v", r.TopP)
	}
	// ROUGE cannot score against an empty reference (the recipe would crash).
	if _, err := rouge.Compute("x", r.SummaryGT); errors.Is(err, rouge.ErrReferenceEmpty) {
		return errors.New("field \"summary_gt\": empty reference (nothing to score against)")
	}
	return nil
}
