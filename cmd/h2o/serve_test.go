package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/h2o-kv/h2o/internal/testutil"
)

// TestMain lets the tests run the command itself as a child process (the
// test binary with H2O_TEST_MAIN=1 is h2o).
func TestMain(m *testing.M) {
	if os.Getenv("H2O_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// h2oCommand is the command h2o args as a child process.
func h2oCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "H2O_TEST_MAIN=1")
	return cmd
}

// sseStream reads a server-sent event stream of completion chunks.
type sseStream struct {
	sc      *bufio.Scanner
	body    io.Closer
	text    strings.Builder
	reason  string
	tokens  int
	done    bool
	chunks  int
	started chan struct{}
}

func openStream(t *testing.T, url, body string) *sseStream {
	t.Helper()
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %s", resp.Status)
	}
	return &sseStream{sc: bufio.NewScanner(resp.Body), body: resp.Body, started: make(chan struct{})}
}

// read consumes the stream to its end.
func (s *sseStream) read() error {
	defer s.body.Close()
	for s.sc.Scan() {
		line, ok := strings.CutPrefix(s.sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			s.done = true
			return nil
		}
		var c struct {
			Choices []struct {
				Text         string  `json:"text"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return err
		}
		if s.chunks++; s.chunks == 1 {
			close(s.started)
		}
		s.text.WriteString(c.Choices[0].Text)
		if c.Choices[0].FinishReason != nil {
			s.reason = *c.Choices[0].FinishReason
		}
		if c.Usage != nil {
			s.tokens = c.Usage.CompletionTokens
		}
	}
	return s.sc.Err()
}

// SIGTERM stops taking requests, lets a running stream finish, ends an
// endless one with a final chunk at the drain timeout, and exits 0.
func TestServeSIGTERMDrains(t *testing.T) {
	model := testutil.Stories260K(t)
	cmd := h2oCommand(t, "serve", "-m", model, "--port", "0", "--parallel", "2", "--drain-timeout", "2s", "-B", "48")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stderr)
	url := ""
	re := regexp.MustCompile(`serving .* on (http://\S+) \| 2 sequences`)
	var log strings.Builder
	for url == "" && lines.Scan() {
		log.WriteString(lines.Text() + "\n")
		if m := re.FindStringSubmatch(lines.Text()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatalf("no startup line:\n%s", log.String())
	}
	go func() {
		for lines.Scan() {
			log.WriteString(lines.Text() + "\n")
		}
	}()
	resp, err := http.Get(url + "/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/health: %v %v", resp, err)
	}
	resp.Body.Close()

	const finite = 400
	a := openStream(t, url, fmt.Sprintf(`{"prompt": "Once upon a time", "max_tokens": %d, "ignore_eos": true, "temperature": 0, "stream": true}`, finite))
	b := openStream(t, url, `{"prompt": "The cat", "max_tokens": 10000000, "ignore_eos": true, "stream": true}`)
	errs := make(chan error, 2)
	go func() { errs <- a.read() }()
	go func() { errs <- b.read() }()
	<-a.started
	<-b.started
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, log.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no exit 15 s after SIGTERM\n%s", log.String())
	}
	if !a.done || a.reason != "length" || a.tokens != finite {
		t.Fatalf("the finite stream: done %v, %s, %d tokens", a.done, a.reason, a.tokens)
	}
	if !b.done || b.reason != "length" || b.tokens == 0 || b.text.Len() == 0 {
		t.Fatalf("the endless stream: done %v, %s, %d tokens", b.done, b.reason, b.tokens)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Fatalf("exited %s after SIGTERM, before the drain timeout ended the endless stream", d)
	}
	if _, err := http.Get(url + "/health"); err == nil {
		t.Fatal("still accepting after exit")
	}
	if !strings.Contains(log.String(), "POST /v1/completions 200") {
		t.Fatalf("no request log line:\n%s", log.String())
	}
}

// With stdin not a terminal, h2o chat reads one user turn per line; each
// turn reads only its new text into the cache; /stats, /reset and /quit work.
func TestChatScripted(t *testing.T) {
	model := testutil.Stories260K(t)
	cmd := h2oCommand(t, "chat", "-m", model, "--chat-template", "chatml", "-n", "20", "--temp", "0", "-B", "64")
	cmd.Stdin = strings.NewReader("Once upon a time\n/stats\nLily went home\n/reset\nThe end\n/quit\nnever read\n")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() { <-ctx.Done(); cmd.Process.Kill() }()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	status := regexp.MustCompile(`\[cache (\d+)/64 tokens \| \d+ evicted \| (\d+) seen \| [\d.]+ t/s\] read (\d+), replied (\d+)`).FindAllStringSubmatch(stderr.String(), -1)
	if len(status) != 3 {
		t.Fatalf("%d status lines, want 3:\n%s", len(status), stderr.String())
	}
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	seen1, read2, seen2 := num(status[0][2]), num(status[1][3]), num(status[1][2])
	if seen2 != seen1+read2+num(status[1][4]) && seen2 != seen1+read2+num(status[1][4])-1 {
		t.Fatalf("turn 2 read %d tokens after %d seen, then %d seen: the history was read again\n%s", read2, seen1, seen2, stderr.String())
	}
	if read2 >= seen1 {
		t.Fatalf("turn 2 read %d tokens, as many as the whole history (%d)", read2, seen1)
	}
	if !strings.Contains(stderr.String(), "h2o: 1 turns") || !strings.Contains(stderr.String(), "new conversation [cache 0/64") {
		t.Fatalf("/stats or /reset missing:\n%s", stderr.String())
	}
	if strings.TrimSpace(stdout.String()) == "" {
		t.Fatal("no replies on stdout")
	}
}
