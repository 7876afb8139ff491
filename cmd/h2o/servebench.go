package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/eval"
	"github.com/h2o-kv/h2o/serve"
	"github.com/urfave/cli/v2"
)

const serveBenchDescription = "Starts the server of h2o serve on 127.0.0.1 (one policy: --mode and the policy flags) and loads it\n" +
	"over HTTP: at each --concurrency C, C clients send --requests streamed completions each, one after\n" +
	"the other (a prompt of -p tokens from the text of --input-path, -n tokens generated, EOS ignored).\n" +
	"Prints a Markdown row per concurrency: aggregate generated tokens/s over the wall time and the\n" +
	"p50/p99 time to first token as the clients see it."

// serveBenchCommand is the load benchmark of the server.
func serveBenchCommand() *cli.Command {
	return newCommand(cmdServeBench, "serve-bench", "load benchmark of h2o serve: tokens/s and time to first token against concurrency", serveBenchDescription, serveBenchAction)
}

func serveBenchAction(c *cli.Context) error {
	req, opts, err := generationOptions(c)
	if err != nil {
		return err
	}
	levels, err := parseList(c.String("concurrency"), func(f string) (int, error) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 256 {
			return 0, fmt.Errorf("--concurrency %q: want numbers from 1 to 256", f)
		}
		return n, nil
	})
	if err != nil || len(levels) == 0 {
		return fmt.Errorf("--concurrency %q: want numbers from 1 to 256", c.String("concurrency"))
	}
	np, nGen, perClient := c.Int("n-prompt"), c.Int("n-gen"), c.Int("requests")
	if np < 1 || nGen < 1 || perClient < 1 {
		return fmt.Errorf("-p, -n and --requests must be at least 1")
	}
	m, err := loadModel(c)
	if err != nil {
		return err
	}
	defer m.Close()
	corpus, err := benchCorpus(c, m, np)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := serve.New(serve.Config{ModelID: "bench", Policy: req, MaxTokens: nGen, Queue: 256})
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	defer hs.Close()
	url := "http://" + ln.Addr().String()
	parallel := c.String("parallel")
	if parallel == "" {
		parallel = strconv.Itoa(slices.Max(levels))
	}
	b, err := startServing(c, srv, m, withThreadDefault(c, m, opts), parallel, url, false)
	if err != nil {
		return err
	}
	defer func() { srv.Abort(); hs.Close(); srv.Wait(); b.Close() }()
	pol := b.Options().Resolved()
	fmt.Printf("| policy | slots x cells | concurrency | requests | prompt + gen | gen t/s | TTFT p50 | TTFT p99 |\n|---|---|---:|---:|---|---:|---:|---:|\n")
	next := 0
	for _, conc := range levels {
		var mu sync.Mutex
		var ttfts []time.Duration
		gen := 0
		var firstErr error
		var wg sync.WaitGroup
		start := time.Now()
		for range conc {
			wg.Go(func() {
				for range perClient {
					mu.Lock()
					prompt := corpus[next%len(corpus)]
					next++
					mu.Unlock()
					ttft, n, err := streamOnce(url, prompt, nGen)
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					ttfts = append(ttfts, ttft)
					gen += n
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		wall := time.Since(start)
		if firstErr != nil {
			return firstErr
		}
		slices.Sort(ttfts)
		fmt.Printf("| %s | %d x %d | %d | %d | %d + %d | %.1f | %s | %s |\n", pol, b.Slots(), b.CellsPerSequence(), conc, len(ttfts), np, nGen,
			float64(gen)/wall.Seconds(), ms(quantile(ttfts, 0.5)), ms(quantile(ttfts, 0.99)))
	}
	return nil
}

// benchCorpus cuts the text of --input-path into prompts of n tokens (BOS
// first), as many as it holds, at least one.
func benchCorpus(c *cli.Context, m *binding.Model, n int) ([][]int32, error) {
	dir := c.String("input-path")
	if dir == "" {
		p, ok := sharedPath(defaultTextDir)
		if !ok {
			return nil, fmt.Errorf("no text: pass --input-path (../shared/%s is not present)", defaultTextDir)
		}
		dir = p
	}
	docs, err := eval.ReadInputs([]string{dir}, 0)
	if err != nil {
		return nil, err
	}
	var out [][]int32
	bos := m.Info().BOS
	for _, d := range docs {
		toks, err := m.Tokenize(d.Text, false, false)
		if err != nil {
			return nil, err
		}
		for i := 0; i+n-1 <= len(toks); i += n - 1 {
			out = append(out, append([]int32{bos}, toks[i:i+n-1]...))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no text of %d tokens", dir, n)
	}
	return out, nil
}

// streamOnce sends one streamed completion of the prompt's tokens and
// returns the time to its first text chunk and the tokens generated.
func streamOnce(url string, prompt []int32, n int) (time.Duration, int, error) {
	body, _ := json.Marshal(map[string]any{"prompt": prompt, "max_tokens": n, "ignore_eos": true, "temperature": 0, "stream": true})
	start := time.Now()
	resp, err := http.Post(url+"/v1/completions", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, 0, fmt.Errorf("serve-bench: %s", resp.Status)
	}
	var ttft time.Duration
	tokens := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || line == "[DONE]" {
			continue
		}
		var ch struct {
			Choices []struct {
				Text string `json:"text"`
			} `json:"choices"`
			Usage *struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(line), &ch); err != nil {
			return 0, 0, err
		}
		if ttft == 0 && len(ch.Choices) > 0 && ch.Choices[0].Text != "" {
			ttft = time.Since(start)
		}
		if ch.Usage != nil {
			tokens = ch.Usage.CompletionTokens
		}
	}
	return ttft, tokens, sc.Err()
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
