package chat

import (
	"strings"
	"testing"

	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/internal/testmodel"
	"github.com/h2o-kv/h2o/session"
)

// Each turn reads only what the template adds after the cache's text (the
// end of the last reply's turn and the new user turn), and the whole
// conversation lives in the H2O budget.
func TestConversationFeedsOnlyTheNewTurn(t *testing.T) {
	m := testmodel.Stories(t)
	opts := session.Options{Policy: h2o.Config{Policy: h2o.H2O, Budget: 96, HeavyHitters: 48, Rolling: true}, Chunk: 32, Threads: 1}
	s, err := session.New(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tmpl, err := Template(m, "chatml")
	if err != nil {
		t.Fatal(err)
	}
	c := NewConversation(s, tmpl, "Tell a story.")
	gen := session.GenOptions{MaxTokens: 24}
	users := []string{"Once upon a time", "Lily went to the park", "The end"}
	fedTotal, before := 0, ""
	for i, u := range users {
		turn, err := c.Say(u, gen, nil)
		if err != nil {
			t.Fatal(err)
		}
		fedTotal += turn.Fed
		full, _ := Render(tmpl, c.Messages()[:len(c.Messages())-1], true)
		added := full
		if i > 0 {
			added = strings.TrimPrefix(full, before)
		}
		if i > 0 && !strings.HasPrefix(added, "<|im_end|>\n<|im_start|>user\n"+u) {
			t.Fatalf("turn %d adds %q", i, added)
		}
		before = full + turn.Result.Text
		want, _ := m.Tokenize(added, i == 0, true)
		if turn.Fed != len(want) {
			t.Fatalf("turn %d fed %d tokens, the new text has %d", i, turn.Fed, len(want))
		}
		if turn.Result.NTokens == 0 {
			t.Fatalf("turn %d: empty reply", i)
		}
	}
	st := s.Stats()
	if st.PromptTokens != fedTotal || c.Rereads != 0 {
		t.Fatalf("prompt tokens %d, fed %d, rereads %d", st.PromptTokens, fedTotal, c.Rereads)
	}
	if st.Evictions == 0 || st.CacheUsed > 96 {
		t.Fatalf("the conversation did not live in the budget: %+v", st)
	}
	c.Reset()
	if s.CacheLen() != 0 || len(c.Messages()) != 1 {
		t.Fatalf("after Reset: %d cached, %d messages", s.CacheLen(), len(c.Messages()))
	}
	// a stopped reply keeps what was said, and the cache holds all of it
	n := 0
	turn, err := c.Say(users[0], session.GenOptions{MaxTokens: 50}, func(string) bool { n++; return n < 3 })
	if err != nil || turn.Result.NTokens != 3 {
		t.Fatalf("stopped reply: %d tokens, %v", turn.Result.NTokens, err)
	}
	if got := s.Stats().Seen; int(got) != turn.Fed+3 {
		t.Fatalf("after a stopped reply the cache saw %d tokens, want %d", got, turn.Fed+3)
	}
}
