// Package chat renders conversations with a model's chat template and
// keeps one conversation in an H2O session, turn after turn, without
// reading the history again.
package chat

import (
	"errors"
	"fmt"
	"strings"

	"github.com/h2o-kv/h2o/binding"
)

// Message is one turn of a conversation.
type Message = binding.ChatMessage

// ErrNoTemplate is returned for a model without tokenizer.chat_template
// when no template name is given.
var ErrNoTemplate = errors.New("the model has no chat template (tokenizer.chat_template)")

// Template is the chat template to render with: name (a built-in name of
// llama.cpp, e.g. chatml, llama2, llama3, mistral-v7, or a template's Jinja
// text) when given, else the model's own. It is checked by rendering a
// probe conversation, so an unknown name fails here and not on the first
// request.
func Template(m *binding.Model, name string) (string, error) {
	tmpl := name
	if tmpl == "" {
		if tmpl = m.ChatTemplate(); tmpl == "" {
			return "", fmt.Errorf("%w: pass --chat-template NAME (one of %s)", ErrNoTemplate, strings.Join(binding.BuiltinChatTemplates(), ", "))
		}
	}
	if _, err := Render(tmpl, []Message{{Role: "user", Content: "hi"}}, true); err != nil {
		if name != "" {
			return "", fmt.Errorf("--chat-template %q: %w", name, err)
		}
		return "", fmt.Errorf("the model's tokenizer.chat_template: %w; pass --chat-template NAME", err)
	}
	return tmpl, nil
}

// Render is the text of msgs under tmpl; addAssistant ends it with the
// start of the assistant's turn (what the model continues from).
func Render(tmpl string, msgs []Message, addAssistant bool) (string, error) {
	return binding.ApplyChatTemplate(tmpl, msgs, addAssistant)
}
