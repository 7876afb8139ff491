package chat

import (
	"strings"

	"github.com/h2o-kv/h2o/session"
)

// Conversation is one chat on a Session: each turn feeds only the text the
// template adds after what the cache already holds (the end of the last
// reply's turn, the new user turn, the start of the assistant's), so the
// history is never read again; the session's policy decides what of it the
// cache keeps.
type Conversation struct {
	s      *session.Session
	tmpl   string
	system string
	msgs   []Message
	cached string // the text whose tokens went into the cache, in order
	// Rereads counts turns where the template rendered the history
	// differently from what the cache holds, so the whole conversation was
	// read again.
	Rereads int
}

// NewConversation starts an empty conversation (system, if not empty, is
// the first message of every conversation, also after Reset).
func NewConversation(s *session.Session, tmpl, system string) *Conversation {
	c := &Conversation{s: s, tmpl: tmpl, system: system}
	c.Reset()
	return c
}

// Reset forgets the conversation and empties the cache.
func (c *Conversation) Reset() {
	c.s.Reset()
	c.msgs, c.cached = c.msgs[:0], ""
	if c.system != "" {
		c.msgs = append(c.msgs, Message{Role: "system", Content: c.system})
	}
}

// Messages are the turns so far.
func (c *Conversation) Messages() []Message { return c.msgs }

// Turn is one exchange.
type Turn struct {
	Fed    int // tokens read into the cache for this turn (not counting the reply)
	Result session.Result
}

// Say adds the user's turn, feeds what it adds to the cache and generates
// the reply; onPiece receives the reply as it comes and may return false to
// stop it (the reply so far stays in the conversation).
func (c *Conversation) Say(user string, gen session.GenOptions, onPiece func(string) bool) (Turn, error) {
	msgs := append(c.msgs, Message{Role: "user", Content: user})
	full, err := Render(c.tmpl, msgs, true)
	if err != nil {
		return Turn{}, err
	}
	delta, ok := strings.CutPrefix(full, c.cached)
	if !ok {
		c.s.Reset()
		c.cached, delta = "", full
		c.Rereads++
	}
	toks, err := c.s.Model().Tokenize(delta, c.cached == "", true)
	if err != nil {
		return Turn{}, err
	}
	if err := c.s.Feed(toks); err != nil {
		return Turn{}, err
	}
	c.msgs, c.cached = msgs, full
	declined := false
	res, err := c.s.Generate(gen, func(p string) bool {
		if onPiece != nil && !onPiece(p) {
			declined = true
		}
		return !declined
	})
	if err == nil && declined && len(res.Tokens) > 0 {
		// the declined piece is in the reply but was not decoded
		err = c.s.Feed(res.Tokens[len(res.Tokens)-1:])
	}
	c.msgs = append(c.msgs, Message{Role: "assistant", Content: res.Text})
	c.cached += res.Text
	if err == nil {
		// a template that trims the reply renders it without the spaces the
		// cache holds around it: the history is the same for the model
		if next, rerr := Render(c.tmpl, c.msgs, false); rerr == nil && !strings.HasPrefix(next, c.cached) {
			if trimmed := full + strings.TrimSpace(res.Text); strings.HasPrefix(next, trimmed) {
				c.cached = trimmed
			}
		}
	}
	return Turn{Fed: len(toks), Result: res}, err
}
