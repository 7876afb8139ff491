package chat

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/h2o-kv/h2o/gguf"
	"github.com/h2o-kv/h2o/internal/testmodel"
)

// The templates' Jinja texts as their models' tokenizer_config.json ship them.
const (
	chatmlJinja = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
	llama2Jinja = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"
	llama3Jinja = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)

var conversation = []Message{
	{Role: "system", Content: "You are kind."},
	{Role: "user", Content: "Hello"},
	{Role: "assistant", Content: "Hi there"},
	{Role: "user", Content: "How are you?"},
}

// A model's tokenizer.chat_template, written by the project's GGUF writer,
// renders a conversation to that template's documented format. The BOS
// token is not in the text: the tokenizer adds it.
func TestTemplateFromGGUF(t *testing.T) {
	for _, tc := range []struct{ name, jinja, want string }{
		{"chatml", chatmlJinja, "<|im_start|>system\nYou are kind.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n" +
			"<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nHow are you?<|im_end|>\n<|im_start|>assistant\n"},
		// llama-2: [INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {answer} </s><s>[INST] {user} [/INST]
		// (llama.cpp writes the answer stripped, without the spaces around it)
		{"llama-2", llama2Jinja, "[INST] <<SYS>>\nYou are kind.\n<</SYS>>\n\nHello [/INST]Hi there</s>[INST] How are you? [/INST]"},
		{"llama-3", llama3Jinja, "<|start_header_id|>system<|end_header_id|>\n\nYou are kind.<|eot_id|>" +
			"<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>" +
			"<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
	} {
		path := filepath.Join(t.TempDir(), tc.name+".gguf")
		if err := gguf.WriteRandomLlama(path, gguf.LlamaOptions{Shape: gguf.LlamaShape{NLayer: 1, NEmbd: 64, NHead: 4, NHeadKV: 2, NFF: 128, NVocab: 300, NCtx: 256}, Type: gguf.F32, ChatTemplate: tc.jinja}); err != nil {
			t.Fatal(err)
		}
		m := testmodel.Load(t, path)
		if got := m.ChatTemplate(); got != tc.jinja {
			t.Fatalf("%s: tokenizer.chat_template read back as %q", tc.name, got)
		}
		tmpl, err := Template(m, "")
		if err != nil {
			t.Fatal(err)
		}
		got, err := Render(tmpl, conversation, true)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// Without a template in the model a name is needed; a name overrides the
// model's; an unknown name is refused at once.
func TestTemplateNames(t *testing.T) {
	m := testmodel.Stories(t)
	if _, err := Template(m, ""); !errors.Is(err, ErrNoTemplate) {
		t.Fatalf("no template: %v", err)
	}
	tmpl, err := Template(m, "chatml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Render(tmpl, conversation[1:2], true)
	if want := "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"; err != nil || got != want {
		t.Fatalf("chatml by name: %q %v", got, err)
	}
	if _, err := Template(m, "no-such-template"); err == nil {
		t.Fatal("unknown template name accepted")
	}
}
