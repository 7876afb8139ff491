package main

import (
	"bufio"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"

	"github.com/h2o-kv/h2o/chat"
	"github.com/h2o-kv/h2o/session"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

const chatDescription = "A conversation in the terminal with the model's chat template (or --chat-template). The whole\n" +
	"conversation stays in the H2O cache: each turn reads only the new text, and the policy decides what of\n" +
	"the history is kept. The reply is printed as it comes, then a status line on stderr. Commands: /reset\n" +
	"(a new conversation), /stats, /quit. Ctrl-C stops the current reply. With stdin not a terminal each\n" +
	"line is one user turn (the replies go to stdout, one per turn)."

// chatCommand is the interactive conversation.
func chatCommand() *cli.Command {
	return newCommand(cmdChat, "chat", "talk with the model in the terminal, the whole conversation kept in the H2O cache", chatDescription, chatAction)
}

func chatAction(c *cli.Context) error {
	_, opts, err := generationOptions(c)
	if err != nil {
		return err
	}
	s, closeAll, err := openSession(c, opts)
	if err != nil {
		return err
	}
	defer closeAll()
	tmpl, err := chat.Template(s.Model(), c.String("chat-template"))
	if err != nil {
		return err
	}
	conv := chat.NewConversation(s, tmpl, c.String("system"))
	pol := s.Options().Resolved()
	gen := session.GenOptions{MaxTokens: c.Int("n-predict"), Sampling: session.Sampling{Temperature: c.Float64("temp"), TopP: c.Float64("top-p"), Seed: c.Uint64("seed")}}
	interactive := term.IsTerminal(int(os.Stdin.Fd()))
	fmt.Fprintf(os.Stderr, "h2o: chat with %s | policy %s rolling=%v | %d KV cells | /reset /stats /quit, Ctrl-C stops a reply\n",
		s.Model().Path(), pol, pol.Rolling, s.Context().NCtx())

	// Ctrl-C ends the reply being generated, not the program.
	var generating, stop atomic.Bool
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	go func() {
		for range sig {
			if generating.Load() {
				stop.Store(true)
			} else if interactive {
				fmt.Fprint(os.Stderr, "\n(/quit ends the chat)\n> ")
			}
		}
	}()
	status := func() string {
		st := s.Stats()
		return fmt.Sprintf("[cache %d/%d tokens | %d evicted | %d seen | %.1f t/s]", st.CacheUsed, max(pol.Budget, st.CacheUsed), st.Evictions, st.Seen, st.GenTPS())
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for {
		if interactive {
			fmt.Print("> ")
		}
		if !in.Scan() {
			if interactive {
				fmt.Println()
			}
			return in.Err()
		}
		line := strings.TrimSpace(in.Text())
		switch {
		case line == "":
			continue
		case line == "/quit" || line == "/exit":
			return nil
		case line == "/reset":
			conv.Reset()
			fmt.Fprintln(os.Stderr, "h2o: new conversation "+status())
			continue
		case line == "/stats":
			st := s.Stats()
			fmt.Fprintf(os.Stderr, "h2o: %d turns | cache %d of %d cells (budget %d) | %d tokens seen, %d evicted | prompt %d tokens (%.1f t/s) | generated %d tokens (%.1f t/s) | history re-read %d times\n",
				len(conv.Messages())/2, st.CacheUsed, st.CacheCells, pol.Budget, st.Seen, st.Evictions, st.PromptTokens, st.PromptTPS(), st.GenTokens, st.GenTPS(), conv.Rereads)
			continue
		case strings.HasPrefix(line, "/"):
			fmt.Fprintf(os.Stderr, "h2o: unknown command %s (/reset, /stats, /quit)\n", line)
			continue
		}
		stop.Store(false)
		generating.Store(true)
		turn, err := conv.Say(line, gen, func(p string) bool {
			fmt.Print(p)
			return !stop.Load()
		})
		generating.Store(false)
		fmt.Println()
		if err != nil {
			return err
		}
		note := ""
		if stop.Load() {
			note = " (stopped)"
		}
		fmt.Fprintf(os.Stderr, "%s read %d, replied %d%s\n", status(), turn.Fed, turn.Result.NTokens, note)
	}
}
