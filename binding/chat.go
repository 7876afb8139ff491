package binding

/*
#include <stdlib.h>
#include "glue.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// ChatMessage is one turn of a conversation.
type ChatMessage struct {
	Role    string // system, user or assistant
	Content string
}

// ChatTemplate is the model's tokenizer.chat_template ("" when it has none).
func (m *Model) ChatTemplate() string {
	p := C.llama_model_chat_template(m.c, nil)
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

// ApplyChatTemplate renders msgs with llama.cpp's llama_chat_apply_template.
// tmpl is a template's Jinja text (which llama.cpp recognises by its
// markers) or a built-in name such as chatml, llama2 or llama3;
// addAssistant ends the text with the start of an assistant turn.
func ApplyChatTemplate(tmpl string, msgs []ChatMessage, addAssistant bool) (string, error) {
	ctmpl := C.CString(tmpl)
	defer C.free(unsafe.Pointer(ctmpl))
	n := len(msgs)
	arr := (*C.struct_llama_chat_message)(C.malloc(C.size_t(max(n, 1)) * C.size_t(unsafe.Sizeof(C.struct_llama_chat_message{}))))
	defer C.free(unsafe.Pointer(arr))
	cmsgs := unsafe.Slice(arr, max(n, 1))
	size := 64
	for i, msg := range msgs {
		cmsgs[i].role = C.CString(msg.Role)
		cmsgs[i].content = C.CString(msg.Content)
		defer C.free(unsafe.Pointer(cmsgs[i].role))
		defer C.free(unsafe.Pointer(cmsgs[i].content))
		size += 2*(len(msg.Role)+len(msg.Content)) + 64
	}
	for {
		buf := make([]byte, size)
		got := C.llama_chat_apply_template(ctmpl, arr, C.size_t(n), C.bool(addAssistant), (*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(size))
		if got < 0 {
			return "", fmt.Errorf("chat template not supported by llama.cpp (built-in names: %v)", BuiltinChatTemplates())
		}
		if int(got) <= size {
			return string(buf[:got]), nil
		}
		size = int(got)
	}
}

// BuiltinChatTemplates are the template names llama.cpp knows.
func BuiltinChatTemplates() []string {
	n := C.llama_chat_builtin_templates(nil, 0)
	if n <= 0 {
		return nil
	}
	ptrs := make([]*C.char, n)
	C.llama_chat_builtin_templates(&ptrs[0], C.size_t(n))
	out := make([]string, n)
	for i, p := range ptrs {
		out[i] = C.GoString(p)
	}
	return out
}
