// Package llm sends chat-completion requests to an OpenAI-compatible server
// (OpenAI, vLLM, Ollama, SGLang ...) through the official openai-go SDK, with
// winnow's own flow control: bounded concurrency, requests-per-minute and
// tokens-per-minute token buckets, retries with exponential backoff and full
// jitter that honour Retry-After, and a cooldown shared by every worker after
// a 429.
//
// A Request is fully determined by the document text, the prompt and the
// options; its Key (a SHA-256 of a canonical encoding of the whole request,
// never the API key) names the answer in the response cache.
package llm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/shared"
)

// Roles of chat messages.
const (
	RoleSystem = "system"
	RoleUser   = "user"
)

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Ways of sending the output token limit: OpenAI's current field, which its
// reasoning models require, or the older one that most OpenAI-compatible
// servers (vLLM, Ollama, SGLang) read.
const (
	MaxTokensField           = "max_tokens"
	MaxCompletionTokensField = "max_completion_tokens"
)

// Request is one chat completion, as sent. Two requests with equal fields are
// the same request: they share a Key and an answer in the cache.
type Request struct {
	// BaseURL is the server's API root, e.g. https://api.openai.com/v1.
	BaseURL string
	Model   string
	// Messages are the system prompt (if any) and the task prompt.
	Messages []Message
	// SchemaName and Schema ask for structured output (response_format
	// json_schema); Schema is compact JSON, nil for a free-text answer.
	SchemaName string
	Schema     json.RawMessage
	// StrictSchema asks for strict schema adherence.
	StrictSchema bool
	// Temperature is nil for the server's default.
	Temperature *float64
	// MaxTokens limits the answer (0: the server's default), sent in the
	// field named by MaxTokensField.
	MaxTokens      int
	MaxTokensField string
	// ReasoningEffort is "", none, minimal, low, medium, high ...
	ReasoningEffort string
	// ServiceTier is "", auto, default, flex or priority.
	ServiceTier string
}

// keyVersion changes when the key encoding changes, so old cache entries are
// never matched by a different encoding.
const keyVersion = "winnow-llm-request/1"

// canonicalRequest is the encoding hashed by Key: fixed field order, the
// schema compacted, nothing that is not sent.
type canonicalRequest struct {
	Version         string          `json:"v"`
	BaseURL         string          `json:"base_url"`
	Model           string          `json:"model"`
	Messages        []Message       `json:"messages"`
	SchemaName      string          `json:"schema_name,omitempty"`
	Schema          json.RawMessage `json:"schema,omitempty"`
	StrictSchema    bool            `json:"strict,omitempty"`
	Temperature     *float64        `json:"temperature,omitempty"`
	MaxTokens       int             `json:"max_tokens,omitempty"`
	MaxTokensField  string          `json:"max_tokens_field,omitempty"`
	ReasoningEffort string          `json:"reasoning_effort,omitempty"`
	ServiceTier     string          `json:"service_tier,omitempty"`
}

// Key returns the request's cache key: the hex SHA-256 of a canonical JSON
// encoding of every field that is sent (base URL, model, messages, schema,
// temperature, token limit, reasoning effort, service tier). The API key is
// not part of a Request and so never part of a key.
func (r *Request) Key() string {
	var schema json.RawMessage
	if len(r.Schema) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, r.Schema); err == nil {
			schema = buf.Bytes()
		} else {
			schema = r.Schema
		}
	}
	maxField := ""
	if r.MaxTokens > 0 {
		maxField = r.maxTokensField()
	}
	c := canonicalRequest{
		Version:         keyVersion,
		BaseURL:         NormalizeBaseURL(r.BaseURL),
		Model:           r.Model,
		Messages:        r.Messages,
		SchemaName:      r.SchemaName,
		Schema:          schema,
		StrictSchema:    r.StrictSchema && len(schema) > 0,
		Temperature:     r.Temperature,
		MaxTokens:       r.MaxTokens,
		MaxTokensField:  maxField,
		ReasoningEffort: r.ReasoningEffort,
		ServiceTier:     r.ServiceTier,
	}
	b, err := json.Marshal(c)
	if err != nil {
		// Only a schema that is not JSON can fail; hash it as text.
		c.Schema = nil
		b, _ = json.Marshal(c)
		b = append(b, r.Schema...)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// NormalizeBaseURL drops trailing slashes, so ".../v1" and ".../v1/" are one
// server.
func NormalizeBaseURL(u string) string {
	return strings.TrimRight(u, "/")
}

func (r *Request) maxTokensField() string {
	if r.MaxTokensField != "" {
		return r.MaxTokensField
	}
	return DefaultMaxTokensField(r.BaseURL)
}

// DefaultMaxTokensField returns max_completion_tokens for OpenAI's own API
// (its reasoning models refuse max_tokens) and max_tokens for every other
// server (vLLM, Ollama and most OpenAI-compatible servers read max_tokens).
func DefaultMaxTokensField(baseURL string) string {
	if strings.Contains(baseURL, "api.openai.com") {
		return MaxCompletionTokensField
	}
	return MaxTokensField
}

// Params returns the SDK parameters of the request; they are also the body of
// a Batch API line.
func (r *Request) Params() openai.ChatCompletionNewParams {
	p := openai.ChatCompletionNewParams{Model: shared.ChatModel(r.Model)}
	for _, m := range r.Messages {
		switch m.Role {
		case RoleSystem:
			p.Messages = append(p.Messages, openai.SystemMessage(m.Content))
		default:
			p.Messages = append(p.Messages, openai.UserMessage(m.Content))
		}
	}
	if len(r.Schema) > 0 {
		js := shared.ResponseFormatJSONSchemaJSONSchemaParam{
			Name:   r.schemaName(),
			Schema: r.Schema,
		}
		if r.StrictSchema {
			js.Strict = param.NewOpt(true)
		}
		p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{
			OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{JSONSchema: js},
		}
	}
	if r.Temperature != nil {
		p.Temperature = param.NewOpt(*r.Temperature)
	}
	if r.MaxTokens > 0 {
		if r.maxTokensField() == MaxCompletionTokensField {
			p.MaxCompletionTokens = param.NewOpt(int64(r.MaxTokens))
		} else {
			p.MaxTokens = param.NewOpt(int64(r.MaxTokens))
		}
	}
	if r.ReasoningEffort != "" {
		p.ReasoningEffort = shared.ReasoningEffort(r.ReasoningEffort)
	}
	if r.ServiceTier != "" {
		p.ServiceTier = openai.ChatCompletionNewParamsServiceTier(r.ServiceTier)
	}
	return p
}

func (r *Request) schemaName() string {
	if r.SchemaName == "" {
		return "answer"
	}
	// OpenAI allows a-z, A-Z, 0-9, underscores and dashes, 64 at most.
	name := []byte(r.SchemaName)
	for i, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			name[i] = '_'
		}
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return string(name)
}

// Characters per token of the estimate: OpenAI's rule of thumb for English
// text with its BPE tokenizers (about 4 characters per token).
const charsPerToken = 4

// Per-message overhead of the chat format, in tokens (role markers), and the
// tokens that prime the reply, as OpenAI documents for its chat models.
const (
	tokensPerMessage = 4
	tokensPerReply   = 3
)

// EstimateTokens estimates a text's token count without a tokenizer: one token
// per 4 characters (Unicode code points), rounded up. It is OpenAI's rule of
// thumb for English; it undercounts languages written with more tokens per
// character and is not the tokenizer of non-OpenAI models, so it serves
// budgeting and rate limiting, never billing (billing uses the usage that the
// server reports).
func EstimateTokens(text string) int {
	n := 0
	for range text {
		n++
	}
	return (n + charsPerToken - 1) / charsPerToken
}

// EstimatePromptTokens estimates the prompt tokens of a request.
func (r *Request) EstimatePromptTokens() int {
	n := tokensPerReply
	for _, m := range r.Messages {
		n += tokensPerMessage + EstimateTokens(m.Content)
	}
	if len(r.Schema) > 0 {
		n += EstimateTokens(string(r.Schema))
	}
	return n
}

// Validate reports a request that cannot be sent.
func (r *Request) Validate() error {
	switch {
	case r.BaseURL == "":
		return fmt.Errorf("request has no base URL")
	case r.Model == "":
		return fmt.Errorf("request has no model")
	case len(r.Messages) == 0:
		return fmt.Errorf("request has no messages")
	}
	switch r.ServiceTier {
	case "", "auto", "default", "flex", "priority", "scale":
	default:
		return fmt.Errorf("unknown service tier %q (want auto, default, flex or priority)", r.ServiceTier)
	}
	switch r.maxTokensField() {
	case MaxTokensField, MaxCompletionTokensField:
	default:
		return fmt.Errorf("unknown max tokens field %q (want %s or %s)", r.MaxTokensField, MaxTokensField, MaxCompletionTokensField)
	}
	return nil
}
