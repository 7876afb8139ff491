package summarize

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// readRecords never panics: with skipBad every bad line is reported as
// file:line and the good ones kept; without, the first bad line is the
// error. Every record returned passes its checks.
func FuzzReadRecords(f *testing.F) {
	for _, s := range []string{
		goodLine, goodLine + "\n" + goodLine, "\n \n", "{}", `{"article": 1}`, "[]", "{", "\x00\xff",
		strings.Replace(goodLine, `"max_tokens": 64`, `"max_tokens": -1`, 1),
		strings.Replace(goodLine, `"max_tokens": 64`, `"max_tokens": 1e300`, 1),
		strings.Replace(goodLine, `"temperature": 0.3`, `"temperature": "hot"`, 1),
		strings.Replace(goodLine, `["###"]`, `"###"`, 1),
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, b []byte, skipBad bool) {
		recs, bad, err := readRecords(bytes.NewReader(b), "in.jsonl", skipBad)
		if err != nil {
			var le *LineError
			if skipBad || !errors.As(err, &le) || le.File != "in.jsonl" || le.Line < 1 {
				t.Fatalf("skipBad %v: error %v", skipBad, err)
			}
			return
		}
		if !skipBad && len(bad) > 0 {
			t.Fatal("bad lines reported without skipBad")
		}
		for _, r := range recs {
			if err := r.check(); err != nil {
				t.Fatalf("record %s kept though %v", r.Where(), err)
			}
			if _, err := ParseRecord(r.Raw, "in.jsonl", r.Line); err != nil {
				t.Fatalf("record %s does not parse again: %v", r.Where(), err)
			}
		}
	})
}
