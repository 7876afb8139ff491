package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/h2o"
)

// The request and response shapes of the OpenAI API (completions and chat
// completions), with the h2o extension object.

// policyOverride is a request's "h2o" object: its policy instead of the
// server's default (only what is given changes).
type policyOverride struct {
	Mode    *string `json:"mode"`
	Budget  *int    `json:"budget"`
	Heavy   *int    `json:"heavy"`
	Rolling *bool   `json:"rolling"`
}

// apply is the server's default policy with the override's fields. A new
// mode or budget drops the default's split sizes, which belong to its own
// budget (h2o then splits the new one as the recipe does, half heavy
// hitters; a given heavy size stays).
func (o *policyOverride) apply(def h2o.Config) (h2o.Config, error) {
	c := def
	if o.Mode != nil {
		p, err := h2o.ParsePolicy(*o.Mode)
		if err != nil {
			return c, err
		}
		c.Policy = p
	}
	if o.Mode != nil || o.Budget != nil {
		c.HeavyHitters, c.HeavyRatio, c.Recent, c.RecentShare = 0, 0, 0, 0
		if c.Policy == h2o.H2O || c.Policy == "" {
			c.HeavyHitters = h2o.HalfBudget
		}
		if c.Policy == h2o.Full {
			c.SinkTokens, c.Rolling = 0, false
		}
	}
	if o.Budget != nil {
		c.Budget = *o.Budget
	}
	if o.Heavy != nil {
		c.HeavyHitters = *o.Heavy
	}
	if o.Rolling != nil {
		c.Rolling = *o.Rolling
	}
	return c, nil
}

// genParams are the generation fields both endpoints share.
type genParams struct {
	Model               string          `json:"model"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	Seed                *int64          `json:"seed"`
	Stop                json.RawMessage `json:"stop"`
	N                   *int            `json:"n"`
	Stream              bool            `json:"stream"`
	IgnoreEOS           bool            `json:"ignore_eos"` // llama-server's: generate max_tokens exactly
	H2O                 *policyOverride `json:"h2o"`
}

func (p *genParams) params() *genParams { return p }

type completionRequest struct {
	genParams
	Prompt json.RawMessage `json:"prompt"`
}

type chatRequest struct {
	genParams
	Messages []chatMessage `json:"messages"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// oneString reads a string, or an array of exactly one string.
func oneString(raw json.RawMessage, what string) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var ss []string
	if err := json.Unmarshal(raw, &ss); err == nil && len(ss) == 1 {
		return ss[0], nil
	}
	return "", fmt.Errorf("%s must be a string, an array of one string or an array of token ids", what)
}

// stops reads stop: absent, a string or up to 4 strings.
func stops(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []string{s}, nil
	}
	var ss []string
	if err := json.Unmarshal(raw, &ss); err != nil || len(ss) > 4 {
		return nil, errors.New("stop must be a string or an array of at most 4 strings")
	}
	return ss, nil
}

// content reads a message's content: a string or an array of text parts.
func (m chatMessage) content() (string, error) {
	var s string
	if err := json.Unmarshal(m.Content, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(m.Content, &parts); err != nil {
		return "", fmt.Errorf("message content must be a string or an array of text parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type != "text" {
			return "", fmt.Errorf("message content part of type %q: only text is supported", p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

func (r chatRequest) messages() ([]binding.ChatMessage, error) {
	if len(r.Messages) == 0 {
		return nil, errors.New("messages must hold at least one message")
	}
	out := make([]binding.ChatMessage, len(r.Messages))
	for i, m := range r.Messages {
		switch m.Role {
		case "system", "user", "assistant", "developer":
		default:
			return nil, fmt.Errorf("messages[%d]: role %q: want system, user or assistant", i, m.Role)
		}
		c, err := m.content()
		if err != nil {
			return nil, fmt.Errorf("messages[%d]: %w", i, err)
		}
		role := m.Role
		if role == "developer" {
			role = "system"
		}
		out[i] = binding.ChatMessage{Role: role, Content: c}
	}
	return out, nil
}

// decodeStrict decodes one JSON value (unknown fields are allowed: clients
// send fields this server ignores, such as user or logit_bias).
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON object")
	}
	return nil
}

// Responses.

type usage struct {
	PromptTokens     int          `json:"prompt_tokens"`
	CompletionTokens int          `json:"completion_tokens"`
	TotalTokens      int          `json:"total_tokens"`
	H2O              *usagePolicy `json:"h2o,omitempty"`
}

// usagePolicy echoes the policy a request ran under and what it did.
type usagePolicy struct {
	Mode        string `json:"mode"`
	Budget      int    `json:"budget,omitempty"`
	Heavy       int    `json:"heavy,omitempty"`
	Recent      int    `json:"recent,omitempty"`
	Rolling     bool   `json:"rolling"`
	Evictions   int64  `json:"evictions"`
	CacheTokens int    `json:"cache_tokens"`
	CacheCells  int    `json:"cache_cells"`
}

type completionChoice struct {
	Text         string  `json:"text"`
	Index        int     `json:"index"`
	Logprobs     any     `json:"logprobs"`
	FinishReason *string `json:"finish_reason"`
}

type completionResponse struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"`
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []completionChoice `json:"choices"`
	Usage   *usage             `json:"usage,omitempty"`
}

type chatChoice struct {
	Index        int             `json:"index"`
	Message      *assistantDelta `json:"message,omitempty"`
	Delta        *assistantDelta `json:"delta,omitempty"`
	Logprobs     any             `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

type assistantDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

type chatResponse struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   *usage       `json:"usage,omitempty"`
}

// apiError is the OpenAI error body.
type apiError struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code"`
}
