package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/h2o-kv/h2o/chat"
	"github.com/h2o-kv/h2o/session"
)

// httpError is an error answer: its status and the OpenAI error body.
type httpError struct {
	status    int
	typ, code string
	message   string
}

func badRequest(code, msg string) *httpError {
	return &httpError{http.StatusBadRequest, "invalid_request_error", code, msg}
}

func methodNotAllowed(r *http.Request) *httpError {
	return &httpError{http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed", r.Method + " " + r.URL.Path + " is not allowed"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *httpError) {
	if sw, ok := w.(*statusWriter); ok {
		sw.note = e.code
	}
	writeJSON(w, e.status, apiError{Error: errorBody{Message: e.message, Type: e.typ, Code: e.code}})
}

// readRequest reads a POST body within the size limit into v and checks
// the model it names.
func (s *Server) readRequest(w http.ResponseWriter, r *http.Request, v interface{ params() *genParams }) *httpError {
	if r.Method != http.MethodPost {
		return methodNotAllowed(r)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &httpError{http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large", fmt.Sprintf("the request body is over %d bytes", s.cfg.MaxBody)}
		}
		return badRequest("invalid_body", "reading the request body: "+err.Error())
	}
	if err := decodeStrict(body, v); err != nil {
		return badRequest("invalid_json", "the request body is not valid JSON for this endpoint: "+err.Error())
	}
	if name := v.params().Model; name != "" && name != s.cfg.ModelID {
		return badRequest("model_not_found", fmt.Sprintf("the model %q does not exist: this server serves %q", name, s.cfg.ModelID))
	}
	return nil
}

// queueError is the answer of a job that submit refused.
func queueError(w http.ResponseWriter, err error) *httpError {
	w.Header().Set("Retry-After", "1")
	code := "queue_full"
	if errors.Is(err, errDraining) {
		code = "shutting_down"
	}
	return &httpError{http.StatusServiceUnavailable, "server_error", code, err.Error()}
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	if e := s.readRequest(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if len(req.Prompt) == 0 {
		writeError(w, badRequest("invalid_value", "prompt is required"))
		return
	}
	toks, e := s.promptTokens(req.Prompt)
	if e != nil {
		writeError(w, e)
		return
	}
	s.generate(w, r, toks, req.genParams, false)
}

// promptTokens reads a completion prompt: text (tokenized with BOS) or an
// array of token ids, as the OpenAI API allows.
func (s *Server) promptTokens(raw json.RawMessage) ([]int32, *httpError) {
	var ids []int32
	if err := json.Unmarshal(raw, &ids); err == nil {
		n := int32(s.model.Info().NVocab)
		for _, t := range ids {
			if t < 0 || t >= n {
				return nil, badRequest("invalid_value", fmt.Sprintf("prompt token %d is outside the vocabulary of %d tokens", t, n))
			}
		}
		return ids, nil
	}
	text, err := oneString(raw, "prompt")
	if err == nil && text == "" {
		err = errors.New("the prompt is empty")
	}
	if err != nil {
		return nil, badRequest("invalid_value", err.Error())
	}
	toks, err := s.model.Tokenize(text, true, false)
	if err != nil {
		return nil, badRequest("invalid_value", err.Error())
	}
	return toks, nil
}

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if e := s.readRequest(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if s.cfg.Template == "" {
		msg := "the server has no chat template: start it with --chat-template NAME"
		if s.cfg.NoTemplate != nil {
			msg = s.cfg.NoTemplate.Error()
		}
		writeError(w, badRequest("no_chat_template", msg))
		return
	}
	msgs, err := req.messages()
	if err != nil {
		writeError(w, badRequest("invalid_value", err.Error()))
		return
	}
	text, err := chat.Render(s.cfg.Template, msgs, true)
	if err != nil {
		writeError(w, badRequest("invalid_value", err.Error()))
		return
	}
	// the template's markers are control tokens
	toks, err := s.model.Tokenize(text, true, true)
	if err != nil {
		writeError(w, badRequest("invalid_value", err.Error()))
		return
	}
	s.generate(w, r, toks, req.genParams, true)
}

// generate runs a checked request and answers it whole or as a stream.
func (s *Server) generate(w http.ResponseWriter, r *http.Request, prompt []int32, p genParams, isChat bool) {
	j, e := s.newJob(r.Context(), prompt, p)
	if e != nil {
		writeError(w, e)
		return
	}
	if err := s.submit(j); err != nil {
		writeError(w, queueError(w, err))
		return
	}
	s.metrics.queued.Inc()
	id := fmt.Sprintf("%s-%d", map[bool]string{false: "cmpl", true: "chatcmpl"}[isChat], j.id)
	created := time.Now().Unix()
	if p.Stream {
		s.stream(w, r, j, id, created, isChat)
		return
	}
	var d session.Done
	select {
	case d = <-j.done:
	case <-r.Context().Done():
		return // the loop ends the request at its next step
	case <-s.loopDone:
		select {
		case d = <-j.done:
		default: // queued as the loop ended
			writeError(w, queueError(w, errDraining))
			return
		}
	}
	s.note(w, j, d)
	if fatal(d) {
		writeError(w, &httpError{http.StatusInternalServerError, "server_error", "generation_failed", d.Err.Error()})
		return
	}
	reason := finishReason(d)
	if isChat {
		text := d.Result.Text
		writeJSON(w, http.StatusOK, chatResponse{ID: id, Object: "chat.completion", Created: created, Model: s.cfg.ModelID,
			Choices: []chatChoice{{Message: &assistantDelta{Role: "assistant", Content: &text}, FinishReason: &reason}}, Usage: s.usage(j, d)})
		return
	}
	writeJSON(w, http.StatusOK, completionResponse{ID: id, Object: "text_completion", Created: created, Model: s.cfg.ModelID,
		Choices: []completionChoice{{Text: d.Result.Text, FinishReason: &reason}}, Usage: s.usage(j, d)})
}

// stream sends the text as it is sampled, as server-sent events: chunks
// of new text, a last chunk with the finish reason and the usage, then
// [DONE]. Text that may begin a stop string is held back until it is
// known not to, so the chunks add up to the text a whole answer gives.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, j *job, id string, created int64, isChat bool) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	send := func(v any) bool {
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	chunk := func(text string, reason *string, u *usage) any {
		if isChat {
			c := chatChoice{Delta: &assistantDelta{Content: &text}, FinishReason: reason}
			return chatResponse{ID: id, Object: "chat.completion.chunk", Created: created, Model: s.cfg.ModelID, Choices: []chatChoice{c}, Usage: u}
		}
		return completionResponse{ID: id, Object: "text_completion", Created: created, Model: s.cfg.ModelID,
			Choices: []completionChoice{{Text: text, FinishReason: reason}}, Usage: u}
	}
	if isChat {
		empty := ""
		send(chatResponse{ID: id, Object: "chat.completion.chunk", Created: created, Model: s.cfg.ModelID,
			Choices: []chatChoice{{Delta: &assistantDelta{Role: "assistant", Content: &empty}}}})
	}
	sent := 0
	stop := j.req.Gen.Stop
	for {
		select {
		case <-j.notify:
			if part := streamable(j.snapshot(), stop); len(part) > sent {
				if !send(chunk(part[sent:], nil, nil)) {
					return // the client is gone: the loop ends the request
				}
				sent = len(part)
			}
		case d := <-j.done:
			s.note(w, j, d)
			text := d.Result.Text
			if fatal(d) {
				b, _ := json.Marshal(apiError{Error: errorBody{Message: d.Err.Error(), Type: "server_error", Code: "generation_failed"}})
				fmt.Fprintf(w, "data: %s\n\ndata: [DONE]\n\n", b)
				return
			}
			if d.Err != nil {
				text = j.snapshot() // ended early: everything sampled counts
			}
			rest := ""
			if len(text) > sent {
				rest = text[sent:]
			}
			reason := finishReason(d)
			send(chunk(rest, &reason, s.usage(j, d)))
			fmt.Fprint(w, "data: [DONE]\n\n")
			if flusher != nil {
				flusher.Flush()
			}
			return
		case <-r.Context().Done():
			return
		case <-s.loopDone:
			if len(j.done) == 0 { // queued as the loop ended
				reason := "length"
				send(chunk("", &reason, nil))
				fmt.Fprint(w, "data: [DONE]\n\n")
				return
			}
		}
	}
}

// statusWriter records a response's status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
	note   string
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// note puts a generation's numbers in the request's log line.
func (s *Server) note(w http.ResponseWriter, j *job, d session.Done) {
	sw, ok := w.(*statusWriter)
	if !ok {
		return
	}
	j.mu.Lock()
	first := j.first
	j.mu.Unlock()
	ttft := "-"
	if !first.IsZero() {
		ttft = first.Sub(j.enqueued).Round(time.Millisecond).String()
	}
	sw.note = fmt.Sprintf("prompt %d gen %d ttft %s %s evicted %d finish %s", len(j.req.Prompt), d.Result.NTokens, ttft, j.policy, d.Stats.Evictions, finishReason(d))
	if d.Err != nil {
		sw.note += " (" + d.Err.Error() + ")"
	}
}

// logged writes one line per request and counts it.
func (s *Server) logged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		path := r.URL.Path
		if path != "/metrics" && path != "/health" {
			s.log.Printf("%s %s %d %s %s", r.Method, path, sw.status, time.Since(start).Round(time.Millisecond), strings.TrimSpace(sw.note))
		}
		s.metrics.request(path, sw.status)
	})
}
