package e2e

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/h2o-kv/h2o/internal/testutil"
	"github.com/h2o-kv/h2o/summarize"
)

// syncBuffer is a buffer written by a command while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// interrupt starts h2o, sends SIGINT once ready reports true (polled), and
// waits for the command to end, within limit.
func interrupt(t *testing.T, limit time.Duration, ready func(stdout, stderr string) bool, args ...string) result {
	t.Helper()
	cmd := exec.Command(h2oBin, args...)
	cmd.Dir = repoRoot()
	var out, errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(limit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	signalled := false
	for {
		select {
		case <-done:
			if !signalled {
				t.Fatalf("h2o ended before it was interrupted:\n%s", errOut.String())
			}
			return result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errOut.String(), took: time.Since(start)}
		case <-deadline:
			cmd.Process.Kill()
			<-done
			t.Fatalf("h2o still running after %s (signalled: %v):\n%s", limit, signalled, errOut.String())
		case <-tick.C:
			if !signalled && ready(out.String(), errOut.String()) {
				if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
					t.Fatal(err)
				}
				signalled = true
			}
		}
	}
}

func mustExit130(t *testing.T, r result) {
	t.Helper()
	if sign := crashed(r); sign != "" {
		t.Fatalf("crashed (%s):\n%s", sign, r.stderr)
	}
	if r.code != 130 {
		t.Fatalf("exit %d, want 130 (interrupted):\n%s", r.code, r.stderr)
	}
}

// Ctrl-C stops `run -n -1` (until EOS, printed as it comes): the text
// generated so far and the stats are printed, and the text is exactly what
// a run of that many tokens gives.
func TestInterruptRun(t *testing.T) {
	model := stories(t)
	args := []string{"run", "-m", model, "-n", "-1", "--temp", "0", "-p", "Once upon a time", "-t", "1"}
	r := interrupt(t, 60*time.Second, func(out, _ string) bool { return len(out) > 400 }, args...)
	mustExit130(t, r)
	m := regexp.MustCompile(`generated (\d+) tokens .* finish: interrupted`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no stats line with finish: interrupted:\n%s", r.stderr)
	}
	again := h2o(t, 60*time.Second, "run", "-m", model, "-n", m[1], "--temp", "0", "-p", "Once upon a time", "-t", "1")
	if again.code != 0 || again.stdout != r.stdout {
		t.Fatalf("interrupted text differs from a %s-token run:\n%q\n%q", m[1], r.stdout, again.stdout)
	}
}

// Ctrl-C stops ppl: the table covers the positions scored so far, and its
// perplexities equal those of a run cut there.
func TestInterruptPPL(t *testing.T) {
	model := stories(t)
	text := testutil.Shared(t, "data/text/valid")
	args := []string{"ppl", "-m", model, text, "--docs", "1", "--budgets", "32", "--policies", "full,h2o", "-t", "1"}
	r := interrupt(t, 60*time.Second, func(_, errOut string) bool { return strings.Contains(errOut, "h2o: ppl ") }, args...)
	mustExit130(t, r)
	m := regexp.MustCompile(`h2o: (\d+) tokens x 2 runs`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no count of the positions scored:\n%s", r.stderr)
	}
	n, _ := strconv.Atoi(m[1])
	// BOS and the first token are read before the first position is scored
	cut := h2o(t, 60*time.Second, append(args, "--max-tokens", strconv.Itoa(n+2))...)
	if cut.code != 0 {
		t.Fatalf("ppl --max-tokens %d: %s", n+2, cut.stderr)
	}
	if got, want := pplColumn(t, r.stdout), pplColumn(t, cut.stdout); len(got) != 2 || !reflect.DeepEqual(got, want) {
		t.Fatalf("interrupted table %v, want %v (the run cut after %d positions)", got, want, n)
	}
}

// Ctrl-C stops bench inside a row (single sequence and batched): the rows
// measured before it are written, the one it stopped is not, within the
// limit (not when the long row would end).
func TestInterruptBench(t *testing.T) {
	model := stories(t)
	for _, c := range []struct {
		name, row, stopped string
		done               *regexp.Regexp // the first row's line on stderr: the long row has started
	}{
		{"single", "| window B=64 | tg32 |", "tg1000000", regexp.MustCompile(`bench: window B=64 +tg32 `)},
		{"batched", "| window B=64 | np2 pp8+tg32 |", "tg1000000", regexp.MustCompile(`bench: window B=64 +np2 pp8\+tg32 +prefill`)},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"bench", "-m", model, "-t", "1", "-n", "32,1000000", "-r", "1", "--modes", "window", "--budgets", "64"}
			if c.name == "batched" {
				args = append(args, "-p", "8", "--parallel", "2")
			} else {
				args = append(args, "-p", "0")
			}
			r := interrupt(t, 20*time.Second, func(_, errOut string) bool { return c.done.MatchString(errOut) }, args...)
			mustExit130(t, r)
			if !strings.Contains(r.stdout, c.row) {
				t.Errorf("the row measured before the signal is missing:\n%s", r.stdout)
			}
			if strings.Contains(r.stdout, c.stopped) {
				t.Errorf("the row the signal stopped is in the table:\n%s", r.stdout)
			}
			if !strings.Contains(r.stderr, "bench stopped by a signal; the rows measured before it (1) are written") {
				t.Errorf("stderr does not say how the run stopped:\n%s", r.stderr)
			}
		})
	}
}

// pplColumn is the policy and ppl cells of a ppl table's rows.
func pplColumn(t *testing.T, table string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 12 || strings.HasPrefix(strings.TrimSpace(cells[1]), "policy") || strings.HasPrefix(cells[1], "---") {
			continue
		}
		out = append(out, strings.TrimSpace(cells[1])+" "+strings.TrimSpace(cells[7]))
	}
	return out
}

// Ctrl-C stops summarize between samples: its output holds only complete
// lines, the average so far and how to resume are printed, and --resume
// then gives exactly the output of an uninterrupted run.
func TestInterruptSummarizeThenResume(t *testing.T) {
	model := stories(t)
	input := testutil.Shared(t, "data/summarization/xsum_0shot.jsonl")
	dir := t.TempDir()
	whole, parts := filepath.Join(dir, "whole.jsonl"), filepath.Join(dir, "parts.jsonl")
	base := []string{"summarize", "-m", model, "--input-path", input, "--sample_num", "8", "--enable_h2o_generation", "--budget", "64", "--max-tokens", "24", "-t", "1"}
	if r := h2o(t, 90*time.Second, append(base, "--output-path", whole)...); r.code != 0 {
		t.Fatalf("uninterrupted run: %s", r.stderr)
	}
	r := interrupt(t, 90*time.Second, func(string, string) bool { return lineCount(parts) >= 2 }, append(base, "--output-path", parts)...)
	mustExit130(t, r)
	if !strings.Contains(r.stderr, "--resume") || !strings.Contains(r.stdout, "Average Rouge1:") {
		t.Fatalf("no average so far or no word of --resume:\nstdout %s\nstderr %s", r.stdout, r.stderr)
	}
	done := lineCount(parts)
	if done >= 8 {
		t.Skipf("the run finished (%d samples) before the signal took effect", done)
	}
	data, _ := os.ReadFile(parts)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatal("the interrupted output ends in a partial line")
	}
	res := h2o(t, 90*time.Second, append(base, "--output-path", parts, "--resume")...)
	if res.code != 0 || !strings.Contains(res.stderr, strconv.Itoa(done)+" of 8 samples taken over") {
		t.Fatalf("resume: exit %d:\n%s", res.code, res.stderr)
	}
	if a, b := outputLines(t, whole), outputLines(t, parts); len(a) != 8 || !reflect.DeepEqual(a, b) {
		t.Fatalf("interrupted and resumed output differs from the uninterrupted one (%d and %d lines)", len(a), len(b))
	}
}

func lineCount(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

// outputLines reads a summarize output with the timings, which differ run to run, zeroed.
func outputLines(t *testing.T, path string) []summarize.Line {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []summarize.Line
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		l, err := summarize.DecodeLine(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		l.Result.RequestTime.BatchTime = 0
		l.H2O.Timing = summarize.Timing{}
		out = append(out, l)
	}
	return out
}
