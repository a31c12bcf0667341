package llm

import (
	"encoding/json"
	"testing"
	"time"
)

func baseRequest() Request {
	t := 0.0
	return Request{
		BaseURL:  "http://127.0.0.1:8000/v1",
		Model:    "gpt-4o-mini",
		Messages: []Message{{Role: RoleSystem, Content: "sys"}, {Role: RoleUser, Content: "Rate: doc"}},
		Schema:   json.RawMessage(`{"type":"object","properties":{"score":{"type":"integer"}}}`), SchemaName: "p",
		Temperature: &t, MaxTokens: 100, ReasoningEffort: "low", ServiceTier: "flex",
	}
}

func TestRequestKeyCoversEveryField(t *testing.T) {
	base := baseRequest()
	key := base.Key()
	if len(key) != 64 {
		t.Fatalf("key %q is not a hex SHA-256", key)
	}
	if again := baseRequest(); again.Key() != key {
		t.Fatal("equal requests have different keys")
	}
	// Equivalent spellings are one request.
	same := baseRequest()
	same.BaseURL += "/"
	same.Schema = json.RawMessage("{\n \"type\": \"object\", \"properties\": {\"score\": {\"type\": \"integer\"}}\n}")
	if same.Key() != key {
		t.Error("a trailing slash or schema whitespace changed the key")
	}
	one := 1.0
	for name, change := range map[string]func(r *Request){
		"base url":         func(r *Request) { r.BaseURL = "https://api.openai.com/v1" },
		"model":            func(r *Request) { r.Model = "gpt-4o" },
		"system":           func(r *Request) { r.Messages[0].Content = "other" },
		"user":             func(r *Request) { r.Messages[1].Content = "Rate: doc2" },
		"role":             func(r *Request) { r.Messages[0].Role = RoleUser },
		"schema":           func(r *Request) { r.Schema = json.RawMessage(`{"type":"object"}`) },
		"no schema":        func(r *Request) { r.Schema = nil },
		"schema name":      func(r *Request) { r.SchemaName = "q" },
		"strict":           func(r *Request) { r.StrictSchema = true },
		"temperature":      func(r *Request) { r.Temperature = &one },
		"no temperature":   func(r *Request) { r.Temperature = nil },
		"max tokens":       func(r *Request) { r.MaxTokens = 101 },
		"max tokens field": func(r *Request) { r.MaxTokensField = MaxCompletionTokensField },
		"reasoning":        func(r *Request) { r.ReasoningEffort = "high" },
		"tier":             func(r *Request) { r.ServiceTier = "priority" },
	} {
		r := baseRequest()
		r.Messages = append([]Message(nil), r.Messages...)
		change(&r)
		if r.Key() == key {
			t.Errorf("changing the %s kept the key", name)
		}
	}
}

// The key encoding is a storage format: caches written by earlier versions
// must keep matching. The expected value is the SHA-256 of the documented
// canonical encoding, computed independently:
//
//	printf '%s' '{"v":"winnow-llm-request/1","base_url":"http://localhost/v1","model":"m","messages":[{"role":"user","content":"x"}]}' | sha256sum
//
// Changing the encoding means old caches are not reused: bump keyVersion on
// purpose, never by accident.
func TestRequestKeyIsStable(t *testing.T) {
	r := Request{BaseURL: "http://localhost/v1/", Model: "m", Messages: []Message{{Role: RoleUser, Content: "x"}}}
	if got, want := r.Key(), "e7d840d316b9612603c71b3a3142af67e1f8fc5ef0f4dfe2211302bbbb898217"; got != want {
		t.Errorf("key = %s, want %s", got, want)
	}
}

func TestDefaultMaxTokensField(t *testing.T) {
	if f := DefaultMaxTokensField("https://api.openai.com/v1"); f != MaxCompletionTokensField {
		t.Errorf("OpenAI: %s", f)
	}
	if f := DefaultMaxTokensField("http://127.0.0.1:8000/v1"); f != MaxTokensField {
		t.Errorf("vLLM: %s", f)
	}
}

func TestRequestValidate(t *testing.T) {
	for name, change := range map[string]func(r *Request){
		"no url":   func(r *Request) { r.BaseURL = "" },
		"no model": func(r *Request) { r.Model = "" },
		"no msgs":  func(r *Request) { r.Messages = nil },
		"tier":     func(r *Request) { r.ServiceTier = "cheap" },
		"field":    func(r *Request) { r.MaxTokensField = "tokens" },
	} {
		r := baseRequest()
		change(&r)
		if r.Validate() == nil {
			t.Errorf("%s: no error", name)
		}
	}
	r := baseRequest()
	if err := r.Validate(); err != nil {
		t.Error(err)
	}
}

func TestEstimateTokens(t *testing.T) {
	for text, want := range map[string]int{"": 0, "abc": 1, "abcd": 1, "abcde": 2, "ññññ": 1} {
		if got := EstimateTokens(text); got != want {
			t.Errorf("EstimateTokens(%q) = %d, want %d", text, got, want)
		}
	}
	r := Request{Messages: []Message{{Role: RoleUser, Content: "12345678"}}}
	if got := r.EstimatePromptTokens(); got != tokensPerReply+tokensPerMessage+2 {
		t.Errorf("EstimatePromptTokens = %d", got)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	j := newJitter()
	base, maxWait := 100*time.Millisecond, time.Second
	for attempt := 1; attempt <= 40; attempt++ {
		ceiling := min(maxWait, base<<min(attempt-1, 20))
		seen := map[time.Duration]bool{}
		for range 50 {
			d := j.backoff(attempt, base, maxWait)
			if d < 0 || d > ceiling {
				t.Fatalf("attempt %d: backoff %v outside [0, %v]", attempt, d, ceiling)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("attempt %d: only %d distinct waits in 50 draws: no jitter", attempt, len(seen))
		}
	}
}
