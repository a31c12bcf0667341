// Package fakeopenai is an in-process OpenAI-compatible HTTP server for tests
// and benchmarks: /v1/chat/completions (with usage), /v1/files (upload,
// retrieve, content) and /v1/batches (create, retrieve, list; batches complete
// asynchronously). Its answers are a deterministic function of the request,
// its faults follow a schedule given by the test (429 with Retry-After, 500,
// 400, hang until the client gives up, unparseable or slow answers), and it
// logs every request received and every answer it finished writing.
package fakeopenai

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// FaultKind is a misbehaviour of the server for one request.
type FaultKind int

// Faults the server can inject.
const (
	// None answers normally.
	None FaultKind = iota
	// RateLimit answers 429 with the Fault's Retry-After header.
	RateLimit
	// ServerError answers 500.
	ServerError
	// BadRequest answers 400, which clients must not retry.
	BadRequest
	// Hang never answers; the handler returns when the client gives up.
	Hang
	// Unparseable answers 200 with text that no processor can read.
	Unparseable
	// Slow answers normally after the Fault's Delay.
	Slow
	// InsufficientQuota answers 429 with code insufficient_quota.
	InsufficientQuota
)

// String names the fault.
func (k FaultKind) String() string {
	return [...]string{"none", "rate-limit", "server-error", "bad-request", "hang", "unparseable", "slow", "insufficient-quota"}[k]
}

// Fault is what the server does with one request.
type Fault struct {
	Kind FaultKind
	// RetryAfter is the Retry-After header value of a RateLimit ("" for
	// none).
	RetryAfter string
	// Delay is the extra latency of a Slow answer.
	Delay time.Duration
}

// UnparseableAnswer is the answer of an Unparseable fault.
const UnparseableAnswer = "I am not able to rate this text."

// Config programs the server.
type Config struct {
	// Latency is added to every chat answer.
	Latency time.Duration
	// Answer returns the answer text of a request (DefaultAnswer when nil).
	Answer func(req *ChatRequest) string
	// Fault picks the fault for a request; attempt is 1 the first time its
	// exact body is received, 2 the second time, and so on, so a schedule
	// does not depend on the order in which concurrent requests arrive.
	Fault func(req *ChatRequest, attempt int) Fault
	// Model is the model reported in answers ("" echoes the request's).
	Model string
	// APIKey, when set, is required as a bearer token (else 401).
	APIKey string
	// MaxCompleted > 0 makes every chat request after that many completed
	// answers hang until its client gives up (to kill a client mid-run at a
	// known point).
	MaxCompleted int
	// BatchLatency is how long a batch stays in progress (default 20ms).
	// HoldBatches keeps batches in progress until ReleaseBatches.
	BatchLatency time.Duration
	HoldBatches  bool
}

// Event is one chat request, as the server saw it.
type Event struct {
	// Seq numbers requests in arrival order, from 1.
	Seq int
	// Key is the SHA-256 of the request body: equal requests, equal keys.
	Key string
	// Prompt is the last user message.
	Prompt string
	// Attempt counts receptions of this body (1 the first time).
	Attempt int
	Fault   FaultKind
	// Status is the HTTP status written (0 while in flight or for a hang).
	Status int
	// Completed is true once a 200 answer was written in full.
	Completed bool
	// Authorized is true when the request carried a bearer token.
	Authorized bool
	// Batch is true for a line of a Batch API input file.
	Batch bool
}

// Server is a running fake.
type Server struct {
	// URL is the API root, ending in /v1.
	URL string

	cfg  Config
	http *httptest.Server

	mu        sync.Mutex
	events    []*Event
	attempts  map[string]int
	completed int
	changed   chan struct{} // closed and replaced when an answer completes
	files     map[string]*file
	batches   map[string]*batchJob
	order     []string // batch ids in creation order
	release   chan struct{}
	nextID    int
}

// New starts a server on loopback; Close stops it.
func New(cfg Config) *Server {
	if cfg.Answer == nil {
		cfg.Answer = DefaultAnswer
	}
	if cfg.BatchLatency <= 0 {
		cfg.BatchLatency = 20 * time.Millisecond
	}
	s := &Server{
		cfg:      cfg,
		attempts: map[string]int{},
		changed:  make(chan struct{}),
		files:    map[string]*file{},
		batches:  map[string]*batchJob{},
		release:  make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("POST /v1/files", s.uploadFile)
	mux.HandleFunc("GET /v1/files/{id}", s.getFile)
	mux.HandleFunc("GET /v1/files/{id}/content", s.fileContent)
	mux.HandleFunc("POST /v1/batches", s.createBatch)
	mux.HandleFunc("GET /v1/batches", s.listBatches)
	mux.HandleFunc("GET /v1/batches/{id}", s.getBatch)
	s.http = httptest.NewServer(s.authorize(mux))
	s.URL = s.http.URL + "/v1"
	return s
}

// Close stops the server, ending hanging requests.
func (s *Server) Close() {
	s.http.CloseClientConnections()
	s.http.Close()
}

func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.APIKey != "" && r.Header.Get("Authorization") != "Bearer "+s.cfg.APIKey {
			writeError(w, http.StatusUnauthorized, "invalid_api_key", "Incorrect API key provided.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ChatRequest is the part of a chat completion request the server reads.
type ChatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	ResponseFormat *struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
			Strict bool            `json:"strict"`
		} `json:"json_schema"`
	} `json:"response_format"`
	Temperature         *float64 `json:"temperature"`
	MaxTokens           *int     `json:"max_tokens"`
	MaxCompletionTokens *int     `json:"max_completion_tokens"`
	ReasoningEffort     string   `json:"reasoning_effort"`
	ServiceTier         string   `json:"service_tier"`
}

// Prompt returns the last user message.
func (r *ChatRequest) Prompt() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == "user" {
			return r.Messages[i].Content
		}
	}
	return ""
}

// Schema returns the requested JSON schema, nil for a free-text request.
func (r *ChatRequest) Schema() json.RawMessage {
	if r.ResponseFormat == nil || r.ResponseFormat.JSONSchema == nil {
		return nil
	}
	return r.ResponseFormat.JSONSchema.Schema
}

// Score is the deterministic score (0-5) that DefaultAnswer gives a prompt.
func Score(prompt string) int {
	h := fnv.New32a()
	h.Write([]byte(prompt))
	return int(h.Sum32() % 6)
}

// DefaultAnswer answers with Score(prompt): a JSON value that follows the
// requested schema (see SchemaAnswer), else a text ending in both
// "Educational score: N" and "Final score: N".
func DefaultAnswer(req *ChatRequest) string {
	score := Score(req.Prompt())
	if schema := req.Schema(); schema != nil {
		return SchemaAnswer(schema, score)
	}
	return fmt.Sprintf("The extract was read by a deterministic test server.\nEducational score: %d\nFinal score: %d", score, score)
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	var req ChatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "body is not JSON: "+err.Error())
		return
	}
	sum := sha256.Sum256(body)
	ev := &Event{Key: hex.EncodeToString(sum[:]), Prompt: req.Prompt(), Authorized: strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ")}
	s.mu.Lock()
	s.attempts[ev.Key]++
	ev.Attempt = s.attempts[ev.Key]
	ev.Seq = len(s.events) + 1
	s.events = append(s.events, ev)
	hold := s.cfg.MaxCompleted > 0 && s.completed >= s.cfg.MaxCompleted
	s.mu.Unlock()

	var fault Fault
	if s.cfg.Fault != nil {
		fault = s.cfg.Fault(&req, ev.Attempt)
	}
	if hold {
		fault = Fault{Kind: Hang}
	}
	s.setEvent(ev, func(e *Event) { e.Fault = fault.Kind })

	delay := s.cfg.Latency
	if fault.Kind == Slow {
		delay += fault.Delay
	}
	if !wait(r.Context(), delay) {
		return
	}
	switch fault.Kind {
	case Hang:
		<-r.Context().Done()
		return
	case RateLimit:
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		s.setEvent(ev, func(e *Event) { e.Status = http.StatusTooManyRequests })
		writeError(w, http.StatusTooManyRequests, "rate_limit_exceeded", "Rate limit reached; please try again later.")
		return
	case InsufficientQuota:
		s.setEvent(ev, func(e *Event) { e.Status = http.StatusTooManyRequests })
		writeError(w, http.StatusTooManyRequests, "insufficient_quota", "You exceeded your current quota.")
		return
	case ServerError:
		s.setEvent(ev, func(e *Event) { e.Status = http.StatusInternalServerError })
		writeError(w, http.StatusInternalServerError, "server_error", "The server had an error while processing your request.")
		return
	case BadRequest:
		s.setEvent(ev, func(e *Event) { e.Status = http.StatusBadRequest })
		writeError(w, http.StatusBadRequest, "invalid_request_error", "This model's maximum context length was exceeded.")
		return
	}
	answer := UnparseableAnswer
	if fault.Kind != Unparseable {
		answer = s.cfg.Answer(&req)
	}
	out, _ := json.Marshal(s.completion(&req, answer, ev.Seq))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(out); err != nil {
		return
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	s.mu.Lock()
	ev.Status = http.StatusOK
	ev.Completed = true
	s.completed++
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// completion is the body of a chat completion answer.
func (s *Server) completion(req *ChatRequest, answer string, seq int) map[string]any {
	model := s.cfg.Model
	if model == "" {
		model = req.Model
	}
	prompt := 0
	for _, m := range req.Messages {
		prompt += tokens(m.Content) + 4
	}
	tier := req.ServiceTier
	if tier == "" || tier == "auto" {
		tier = "default"
	}
	return map[string]any{
		"id":      fmt.Sprintf("chatcmpl-%d", seq),
		"object":  "chat.completion",
		"created": 1700000000,
		"model":   model,
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": answer},
			"finish_reason": "stop",
		}},
		"service_tier": tier,
		"usage": map[string]any{
			"prompt_tokens":         prompt,
			"completion_tokens":     tokens(answer),
			"total_tokens":          prompt + tokens(answer),
			"prompt_tokens_details": map[string]any{"cached_tokens": 0},
		},
	}
}

func tokens(s string) int { return (len(s) + 3) / 4 }

func (s *Server) setEvent(ev *Event, f func(*Event)) {
	s.mu.Lock()
	f(ev)
	s.mu.Unlock()
}

// Events returns a copy of every chat request received, in arrival order.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, len(s.events))
	for i, e := range s.events {
		out[i] = *e
	}
	return out
}

// Counts returns the chat requests received and the answers completed.
func (s *Server) Counts() (received, completed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events), s.completed
}

// WaitCompleted waits until at least n answers were completed.
func (s *Server) WaitCompleted(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		done, ch := s.completed >= n, s.changed
		s.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// SetMaxCompleted changes Config.MaxCompleted (0: no limit) for requests
// that arrive from now on.
func (s *Server) SetMaxCompleted(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.MaxCompleted = n
}

// ResetEvents forgets the request log and the attempt counts (not the files
// and batches).
func (s *Server) ResetEvents() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = nil
	s.attempts = map[string]int{}
	s.completed = 0
}

func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"message": message, "type": code, "code": code, "param": nil,
	}})
}
