package summarize

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
)

// Line is one output line. "request" and "result" have the recipe's
// structure (run_summarization.py); "h2o" holds what this tool adds.
type Line struct {
	Request json.RawMessage `json:"request"`
	Result  Result          `json:"result"`
	H2O     Meta            `json:"h2o"`
}

// Result is the recipe's "result" object (OpenAI completion style).
type Result struct {
	Choices     []Choice    `json:"choices"`
	RequestTime RequestTime `json:"request_time"`
}

// Choice is one generation. FinishReason is the true one ("stop" for EOS or
// a stop string, "length" for max_tokens), where the recipe always writes "length".
type Choice struct {
	Text         string   `json:"text"`
	Logprobs     Logprobs `json:"logprobs"`
	FinishReason string   `json:"finish_reason"`
}

// Logprobs follows the recipe's keys. Tokens are the decoded pieces;
// TokenLogprobs the log-probability of each sampled token under the model
// (raw logits); TopLogprobs one {piece: logprob} map per position with the
// most likely alternatives; TextOffset the byte offset of each piece.
type Logprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []float64            `json:"token_logprobs"`
	TopLogprobs   []map[string]float64 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

// RequestTime is the recipe's timing object; BatchTime is the real seconds
// spent on the request (the recipe writes 0).
type RequestTime struct {
	BatchTime float64 `json:"batch_time"`
	BatchSize int     `json:"batch_size"`
}

// Meta is this tool's per-sample record.
type Meta struct {
	Index  int    `json:"index"`           // sample index (0-based, in file order)
	Line   int    `json:"line"`            // input line
	Model  string `json:"model,omitempty"` // the model file's name
	Policy string `json:"policy"`          // the cache policy
	Run    string `json:"run"`             // policy and settings that change the output (see RunLabel)
	Seed   uint64 `json:"seed"`
	Shots  []int  `json:"shot_lines,omitempty"` // input lines of the solved examples
	// Rouge is nil when the sample was left out of the averages.
	Rouge *RougeF `json:"rouge"`
	// Empty marks an empty generation (ROUGE undefined); see EmptyPolicy.
	Empty        bool       `json:"empty_hypothesis,omitempty"`
	PromptTokens int        `json:"prompt_tokens"`
	Truncated    int        `json:"truncated_tokens,omitempty"` // prompt tokens dropped by --truncate
	GenTokens    int        `json:"gen_tokens"`
	PastTrained  bool       `json:"past_trained_ctx,omitempty"`
	Cache        CacheStats `json:"cache"`
	Timing       Timing     `json:"timing"`
}

// RougeF holds the P/R/F of the three metrics, keyed as pltrdy's rouge does.
type RougeF struct {
	Rouge1 PRF `json:"rouge-1"`
	Rouge2 PRF `json:"rouge-2"`
	RougeL PRF `json:"rouge-l"`
}

// PRF is one metric.
type PRF struct {
	F float64 `json:"f"`
	P float64 `json:"p"`
	R float64 `json:"r"`
}

// CacheStats describe the KV cache at the end of the sample.
type CacheStats struct {
	Used      int   `json:"used"`      // tokens in the cache
	Cells     int   `json:"cells"`     // KV cells allocated
	Seen      int64 `json:"seen"`      // tokens that entered the cache
	Evictions int64 `json:"evictions"` // during this sample
}

// Timing of the sample in seconds and tokens per second.
type Timing struct {
	PromptS   float64 `json:"prompt_s"`
	GenS      float64 `json:"gen_s"`
	PromptTPS float64 `json:"prompt_tps"`
	GenTPS    float64 `json:"gen_tps"`
}

// Encode returns the line as JSON followed by a newline. The request is
// kept byte for byte apart from white space; HTML characters are not escaped.
func (l *Line) Encode() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// DecodeLine parses one output line.
func DecodeLine(b []byte) (Line, error) {
	var l Line
	err := json.Unmarshal(b, &l)
	return l, err
}

// Writer appends lines to the output file, one write per line, so a crash
// leaves at most one truncated line (which Prepare drops on resume).
type Writer struct {
	f *os.File
}

// Write appends one line.
func (w *Writer) Write(l *Line) error {
	b, err := l.Encode()
	if err != nil {
		return err
	}
	_, err = w.f.Write(b)
	return err
}

// Close closes the file.
func (w *Writer) Close() error { return w.f.Close() }

// finite replaces values JSON cannot carry (a -Inf log-probability).
func finite(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return 0
	case math.IsInf(v, -1):
		return -math.MaxFloat64
	case math.IsInf(v, 1):
		return math.MaxFloat64
	}
	return v
}
