package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/chat"
	"github.com/h2o-kv/h2o/serve"
	"github.com/h2o-kv/h2o/session"
	"github.com/urfave/cli/v2"
)

const serveDescription = "An OpenAI-compatible server: POST /v1/completions and /v1/chat/completions (stream: true for\n" +
	"server-sent events), GET /v1/models, /health and /metrics (Prometheus). --parallel sequences decode\n" +
	"together (continuous batching), each under the policy flags or its request's \"h2o\" object:\n" +
	"{\"budget\": B, \"heavy\": H, \"mode\": \"h2o|window|sink|full\", \"rolling\": true}. Every sequence has\n" +
	"the KV cells of -c (default: budget + chunk), so a request's budget must be below them and mode full\n" +
	"holds at most that many tokens; mode h2o needs a server started with the h2o policy (it collects the\n" +
	"attention scores). SIGTERM or SIGINT: stop taking requests, let running ones finish for\n" +
	"--drain-timeout, end the rest with a final chunk, exit 0."

// serveCommand is the OpenAI-compatible server.
func serveCommand() *cli.Command {
	return newCommand(cmdServe, "serve", "an OpenAI-compatible server with continuous batching and per-request H2O budgets", serveDescription, serveAction)
}

func serveAction(c *cli.Context) error {
	req, opts, err := generationOptions(c)
	if err != nil {
		return err
	}
	path, err := resolveModelPath(c)
	if err != nil {
		return err
	}
	// Listen first: /health answers 503 while the model loads.
	ln, err := net.Listen("tcp", net.JoinHostPort(c.String("host"), strconv.Itoa(c.Int("port"))))
	if err != nil {
		return err
	}
	id := strings.TrimSuffix(filepath.Base(path), ".gguf")
	srv := serve.New(serve.Config{ModelID: id, Policy: req, MaxTokens: c.Int("n-predict"), Queue: c.Int("queue"), MaxBody: c.Int64("max-body"), Log: os.Stderr})
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(os.Stderr, "h2o: listening on %s, loading %s\n", url, path)

	m, err := loadModel(c)
	if err != nil {
		hs.Close()
		return err
	}
	defer m.Close()
	b, err := startServing(c, srv, m, withThreadDefault(c, m, opts), c.String("parallel"), url, true)
	if err != nil {
		hs.Close()
		return err
	}
	defer b.Close()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sig)
	select {
	case err := <-served:
		return err
	case s := <-sig:
		fmt.Fprintf(os.Stderr, "h2o: %s: draining (at most %s)\n", s, c.Duration("drain-timeout"))
	}
	srv.Drain()
	ctx, cancel := context.WithTimeout(context.Background(), c.Duration("drain-timeout"))
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		// time is up: end the running requests with a final chunk
		srv.Abort()
		ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel2()
		if err := hs.Shutdown(ctx2); err != nil {
			hs.Close()
		}
	}
	srv.Abort() // nothing runs any more: lets the loop end
	srv.Wait()
	fmt.Fprintln(os.Stderr, "h2o: stopped")
	return nil
}

// startServing makes the Batcher of --parallel (a number or auto) sequences
// for opts, gives srv the chat template and starts it, and says so on
// stderr (withChat: the chat template of the model or --chat-template).
// The caller closes the Batcher after srv.Wait.
func startServing(c *cli.Context, srv *serve.Server, m *binding.Model, opts session.Options, parallel, url string, withChat bool) (*session.Batcher, error) {
	nps, err := parallelList(parallel, m, opts)
	if err != nil {
		return nil, err
	}
	if len(nps) != 1 {
		return nil, fmt.Errorf("--parallel %q: want one number from 1 to 256 or auto", parallel)
	}
	tmpl, noTmpl := "", error(nil)
	if withChat {
		tmpl, err = chat.Template(m, c.String("chat-template"))
		switch {
		case errors.Is(err, chat.ErrNoTemplate):
			noTmpl = err // completions work; chat answers 400
			fmt.Fprintf(os.Stderr, "h2o: %v: /v1/chat/completions is off\n", err)
		case err != nil:
			return nil, err
		}
	}
	b, err := session.NewBatcher(m, opts, nps[0])
	if err != nil {
		return nil, err
	}
	srv.SetTemplate(tmpl, noTmpl)
	srv.Start(m, b)
	o := b.Options()
	info := m.Info()
	kv := session.KVBytes(info, b.Slots()*b.CellsPerSequence(), o.TypeK, o.TypeV)
	fmt.Fprintf(os.Stderr, "h2o: serving %s (%s) on %s | %d sequences x %d KV cells (K %s, V %s): %.1f MiB of KV cache | policy %s rolling=%v\n",
		srv.ModelID(), info.Description, url, b.Slots(), b.CellsPerSequence(), o.TypeK, o.TypeV, float64(kv)/(1<<20), o.Resolved(), o.Resolved().Rolling)
	return b, nil
}
