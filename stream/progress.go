package stream

import (
	"fmt"
	"io"
	"strings"
)

// Reporter shows the run's progress; it writes only to its own writer
// (stderr), never to the text stream.
type Reporter interface {
	Update(r Record) // live state during a sample (throttled by the runner)
	Done(r Record)   // a sample ended (or stopped)
	Close() error    // leaves the terminal as it was, the last status kept as a line
}

// Status is the one-line live status of a record.
func (r Record) Status() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%d/%d", r.Sample, r.Total)
	if r.Loops > 1 {
		fmt.Fprintf(&b, " loop %d/%d", r.Loop, r.Loops)
	}
	fmt.Fprintf(&b, "] q%d.%d", r.QuestionID, r.Turn)
	if r.Phase != "" && r.Phase != "done" {
		fmt.Fprintf(&b, " %s", r.Phase)
	}
	fmt.Fprintf(&b, " | seen %d | cache %d/%d | evicted %d | prefill %.0f t/s | decode %.0f t/s | RSS %s",
		r.Seen, r.CacheUsed, r.Budget, r.Evictions, r.PrefillTPS, r.DecodeTPS, bytesString(r.RSS))
	if r.VRAMTotal > 0 {
		fmt.Fprintf(&b, " | VRAM %s/%s", bytesString(r.VRAM), bytesString(r.VRAMTotal))
	}
	return b.String()
}

// Line is the plain line of a finished sample (non-terminal stderr).
func (r Record) Line() string {
	s := fmt.Sprintf("sample %d/%d", r.Sample, r.Total)
	if r.Loops > 1 {
		s += fmt.Sprintf(" loop %d/%d", r.Loop, r.Loops)
	}
	s += fmt.Sprintf(" question %d turn %d: prompt %d, generated %d (%s) | seen %d | cache %d/%d (peak %d) | evicted %d | prefill %.1f t/s | decode %.1f t/s | RSS %s",
		r.QuestionID, r.Turn, r.PromptTokens, r.GenTokens, r.Finish, r.Seen, r.CacheUsed, r.Budget, r.CachePeak,
		r.Evictions, r.PrefillTPS, r.DecodeTPS, bytesString(r.RSS))
	if r.VRAMTotal > 0 {
		s += fmt.Sprintf(" | VRAM %s/%s", bytesString(r.VRAM), bytesString(r.VRAMTotal))
	}
	return s
}

// LineReporter prints one plain line per finished sample (for logs and pipes).
type LineReporter struct{ w io.Writer }

// NewLineReporter reports to w.
func NewLineReporter(w io.Writer) *LineReporter { return &LineReporter{w: w} }

func (l *LineReporter) Update(Record) {}

func (l *LineReporter) Done(r Record) { fmt.Fprintln(l.w, r.Line()) }

func (l *LineReporter) Close() error { return nil }

// TTYReporter refreshes one status line in place on a terminal. When the
// generated text goes to the same terminal (Bottom), the status lives on the
// last row, outside a scroll region holding the text (as apt does), so the
// two never mix.
type TTYReporter struct {
	w      io.Writer
	size   func() (cols, rows int, err error)
	bottom bool
	region int    // rows when the scroll region was set (0 = not set)
	last   string // last status drawn
}

// NewTTYReporter draws on w; size reports the terminal's size; bottom
// reserves the last row (use it when stdout is the same terminal).
func NewTTYReporter(w io.Writer, size func() (cols, rows int, err error), bottom bool) *TTYReporter {
	return &TTYReporter{w: w, size: size, bottom: bottom}
}

func (t *TTYReporter) Update(r Record) { t.draw(r.Status()) }

func (t *TTYReporter) Done(r Record) { t.draw(r.Status()) }

func (t *TTYReporter) dims() (cols, rows int) {
	cols, rows, err := t.size()
	if err != nil || cols <= 0 {
		cols, rows = 80, 0
	}
	return cols, rows
}

func (t *TTYReporter) draw(line string) {
	cols, rows := t.dims()
	t.last = line
	line = truncate(line, cols-1) // a wrapped line could not be redrawn in place
	if !t.bottom || rows < 3 {
		fmt.Fprintf(t.w, "\r%s\x1b[K", line)
		return
	}
	if rows != t.region {
		t.setRegion(rows)
	}
	// save cursor, go to the last row, clear it, write, restore cursor
	fmt.Fprintf(t.w, "\x1b7\x1b[%d;1H\x1b[2K%s\x1b8", rows, line)
}

// setRegion limits scrolling to rows 1..rows-1. The first time (the text's
// cursor at the start of a line) a newline makes room so that the cursor
// stays inside the region; after a resize the cursor is left where it is.
func (t *TTYReporter) setRegion(rows int) {
	if t.region > 0 {
		fmt.Fprintf(t.w, "\x1b7\x1b[%d;1H\x1b[2K\x1b[1;%dr\x1b8", t.region, rows-1)
	} else {
		fmt.Fprintf(t.w, "\n\x1b7\x1b[1;%dr\x1b8\x1b[1A", rows-1)
	}
	t.region = rows
}

// Close resets the scroll region and leaves the last status as a plain line.
func (t *TTYReporter) Close() error {
	if t.last == "" {
		return nil
	}
	cols, _ := t.dims()
	if t.region > 0 {
		fmt.Fprintf(t.w, "\x1b7\x1b[r\x1b8\x1b7\x1b[%d;1H\x1b[2K\x1b8", t.region)
		t.region = 0
		_, err := fmt.Fprintln(t.w, truncate(t.last, cols-1))
		return err
	}
	_, err := fmt.Fprintln(t.w)
	return err
}

func truncate(s string, n int) string {
	if n > 0 && len(s) > n {
		return s[:n]
	}
	return s
}
