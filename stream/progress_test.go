package stream

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestTTYReporterInPlace(t *testing.T) {
	var b bytes.Buffer
	rep := NewTTYReporter(&b, func() (int, int, error) { return 30, 24, nil }, false)
	r := Record{Sample: 1, Total: 3, QuestionID: 81, Turn: 1, CacheUsed: 10, Budget: 20}
	rep.Update(r)
	r.Sample = 2
	rep.Done(r)
	if err := rep.Close(); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Count(out, "\r") != 2 || strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("want two in-place redraws and one final newline: %q", out)
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\r")[1:] {
		if l := len(strings.TrimSuffix(line, "\x1b[K")); l > 29 {
			t.Fatalf("line of %d columns on a 30-column terminal would wrap: %q", l, line)
		}
	}
}

// With the text on the same terminal, the status lives on the last row,
// outside the scroll region, and Close gives the rows back.
func TestTTYReporterBottomRow(t *testing.T) {
	var b bytes.Buffer
	rows := 24
	rep := NewTTYReporter(&b, func() (int, int, error) { return 100, rows, nil }, true)
	r := Record{Sample: 1, Total: 3, Budget: 20}
	rep.Update(r)
	rep.Update(r)
	out := b.String()
	if strings.Count(out, "\x1b[1;23r") != 1 || strings.Count(out, "\x1b7\x1b[24;1H\x1b[2K[1/3]") != 2 {
		t.Fatalf("scroll region once, two draws on row 24: %q", out)
	}
	rows = 30 // resized
	rep.Done(r)
	if !strings.Contains(b.String(), "\x1b[1;29r") {
		t.Fatalf("region not reset after a resize: %q", b.String())
	}
	b.Reset()
	if err := rep.Close(); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.HasPrefix(out, "\x1b7\x1b[r\x1b8") || !strings.HasSuffix(out, "\n") || !strings.Contains(out, "[1/3]") {
		t.Fatalf("close: %q", out)
	}
}

func TestLineReporter(t *testing.T) {
	var b bytes.Buffer
	rep := NewLineReporter(&b)
	r := Record{Sample: 2, Total: 480, Loop: 1, Loops: 3, QuestionID: 81, Turn: 2, PromptTokens: 61, GenTokens: 1000, Finish: "length",
		Seen: 1286, CacheUsed: 128, CachePeak: 128, Budget: 128, Evictions: 1158, RSS: 40 << 20, VRAM: 1 << 30, VRAMTotal: 80 << 30}
	rep.Update(r) // nothing: one line per sample only
	rep.Done(r)
	want := "sample 2/480 loop 1/3 question 81 turn 2: prompt 61, generated 1000 (length) | seen 1286 | cache 128/128 (peak 128) | evicted 1158 | prefill 0.0 t/s | decode 0.0 t/s | RSS 40.0 MiB | VRAM 1.0 GiB/80.0 GiB\n"
	if b.String() != want {
		t.Fatalf("got  %q\nwant %q", b.String(), want)
	}
}

func TestWriteSummary(t *testing.T) {
	recs := []Record{
		{Sample: 1, Loop: 1, PromptTokens: 10, GenTokens: 5, Finish: "eos", Seen: 14, CachePeak: 14, Budget: 16, PrefillTPS: 100, PrefillSec: 0.1, DecodeTPS: 40, DecodeSec: 0.1, RSS: 1 << 20},
		{Sample: 2, Loop: 1, PromptTokens: 10, GenTokens: 8, Finish: "length", Seen: 31, CachePeak: 16, Budget: 16, Evictions: 15, PrefillTPS: 100, PrefillSec: 0.1, DecodeTPS: 70, DecodeSec: 0.1, RSS: 2 << 20},
		{Sample: 3, Loop: 2, PromptTokens: 10, GenTokens: 2, Finish: "error", Seen: 42, CachePeak: 16, Budget: 16, Evictions: 26, PrefillTPS: 50, PrefillSec: 0.2, DecodeTPS: 10, DecodeSec: 0.1, RSS: 3 << 20},
	}
	var b bytes.Buffer
	if err := WriteSummary(&b, Result{Records: recs, Total: 4, Loops: 2, Wall: 1500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("want header, 2 loops, total, wall: %q", b.String())
	}
	for i, want := range [][]string{
		{"1", "2/2", "1/1/0", "20", "13", "31", "16/16", "15", "100.0", "55.0", "2.0 MiB", "-"},
		{"2", "1/2", "0/0/1", "10", "2", "42", "16/16", "11", "50.0", "10.0", "3.0 MiB", "-"},
		{"all", "3/4", "1/1/1", "30", "15", "42", "16/16", "26", "75.0", "40.0", "3.0 MiB", "-"},
	} {
		got := strings.Fields(strings.ReplaceAll(lines[i+1], " MiB", "_MiB"))
		for j := range got {
			got[j] = strings.ReplaceAll(got[j], "_MiB", " MiB")
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("row %d: got %q want %q", i+1, got, want)
		}
	}
	if lines[4] != "wall time 1.5s" {
		t.Fatalf("wall line %q", lines[4])
	}
}
