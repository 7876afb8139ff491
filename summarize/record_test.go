package summarize

import (
	"errors"
	"strings"
	"testing"

	"github.com/h2o-kv/h2o/internal/testutil"
)

const goodLine = `{"article": "###\nArticle: A cat sat.\n\nSummarize the above article in 1 sentence.\n", "summary_gt": "A cat sat.", "logprobs": 1, "max_tokens": 64, "n": 1, "stop": ["###"], "temperature": 0.3, "top_p": 1}`

func TestParseRecordFields(t *testing.T) {
	r, err := ParseRecord([]byte(goodLine+"\r\n"), "in.jsonl", 7)
	if err != nil {
		t.Fatal(err)
	}
	if r.Article != "###\nArticle: A cat sat.\n\nSummarize the above article in 1 sentence.\n" || r.SummaryGT != "A cat sat." ||
		r.MaxTokens != 64 || r.N != 1 || r.Temperature != 0.3 || r.TopP != 1 || len(r.Stop) != 1 || r.Stop[0] != "###" {
		t.Fatalf("parsed %+v", r)
	}
	if string(r.Raw) != goodLine || r.Where() != "in.jsonl:7" {
		t.Fatalf("raw %q where %s", r.Raw, r.Where())
	}
}

func TestParseRecordErrors(t *testing.T) {
	cases := []struct{ line, want string }{
		{`{"article": "x"`, "f.jsonl:3: not a JSON object"},
		{`[1, 2]`, "f.jsonl:3: not a JSON object"},
		{`{"article": "x", "summary_gt": "y", "max_tokens": 4, "temperature": 0, "top_p": 1}`, `missing fields "n", "stop"`},
		{strings.Replace(goodLine, `"summary_gt"`, `"summary"`, 1), `missing field "summary_gt"`},
		{strings.Replace(goodLine, `"max_tokens": 64`, `"max_tokens": "64"`, 1), `field "max_tokens": want a number, got "64"`},
		{strings.Replace(goodLine, `"max_tokens": 64`, `"max_tokens": 6.5`, 1), `field "max_tokens": want an integer`},
		{strings.Replace(goodLine, `"max_tokens": 64`, `"max_tokens": 0`, 1), `field "max_tokens": want at least 1`},
		{strings.Replace(goodLine, `"n": 1`, `"n": 2`, 1), `only n = 1`},
		{strings.Replace(goodLine, `["###"]`, `[1]`, 1), `field "stop": want a list of strings`},
		{strings.Replace(goodLine, `"top_p": 1`, `"top_p": 0`, 1), `field "top_p"`},
		{strings.Replace(goodLine, `"summary_gt": "A cat sat."`, `"summary_gt": "..."`, 1), `empty reference`},
		{strings.Replace(goodLine, `"article": "###`, `"article": 5, "x": "`, 1), `field "article": want a string`},
	}
	for _, c := range cases {
		_, err := ParseRecord([]byte(c.line), "f.jsonl", 3)
		var le *LineError
		if !errors.As(err, &le) || !strings.HasPrefix(err.Error(), "f.jsonl:3: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("line %s\n got %v\nwant f.jsonl:3: ...%s", c.line, err, c.want)
		}
	}
}

func TestStopAsString(t *testing.T) {
	r, err := ParseRecord([]byte(strings.Replace(goodLine, `["###"]`, `"###"`, 1)), "f", 1)
	if err != nil || len(r.Stop) != 1 || r.Stop[0] != "###" {
		t.Fatalf("stop %q, %v", r.Stop, err)
	}
}

func TestReadRecordsLineNumbers(t *testing.T) {
	in := goodLine + "\n\n   \n" + `{"bad": ` + "\n" + goodLine // no final newline
	_, _, err := readRecords(strings.NewReader(in), "x.jsonl", false)
	if err == nil || !strings.HasPrefix(err.Error(), "x.jsonl:4: ") {
		t.Fatalf("want an error at x.jsonl:4, got %v", err)
	}
	recs, bad, err := readRecords(strings.NewReader(in), "x.jsonl", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Line != 1 || recs[1].Line != 5 {
		t.Fatalf("records %d, lines %v", len(recs), lines(recs))
	}
	if len(bad) != 1 || bad[0].Line != 4 {
		t.Fatalf("bad %v", bad)
	}
}

func lines(recs []Record) []int {
	var out []int
	for _, r := range recs {
		out = append(out, r.Line)
	}
	return out
}

// The recipe's data file parses completely, as the recipe reads it.
func TestReadXSUM(t *testing.T) {
	path := testutil.Shared(t, "data/summarization/xsum_0shot.jsonl")
	recs, bad, err := ReadRecords(path, false)
	if err != nil || len(bad) != 0 {
		t.Fatal(err, bad)
	}
	if len(recs) != 1000 {
		t.Fatalf("%d records", len(recs))
	}
	r := recs[0]
	if !strings.HasPrefix(r.Article, "###\nArticle: Prison Link Cymru") || !strings.HasSuffix(r.Article, "\n\nSummarize the above article in 1 sentence.\n") ||
		r.MaxTokens != 64 || r.Temperature != 0.3 || r.Stop[0] != "###" {
		t.Fatalf("first record %+v", r)
	}
}
