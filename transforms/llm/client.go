package llm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// DefaultBaseURL is OpenAI's API.
const DefaultBaseURL = "https://api.openai.com/v1"

// DefaultAPIKeyEnv names the environment variable read for the API key.
const DefaultAPIKeyEnv = "OPENAI_API_KEY"

// Defaults of Config.
const (
	DefaultMaxConcurrency = 16
	DefaultMaxAttempts    = 6
	DefaultRequestTimeout = 10 * time.Minute
	DefaultBackoffBase    = time.Second
	DefaultBackoffMax     = time.Minute
	DefaultMaxRetryAfter  = 10 * time.Minute
)

// Secret holds an API key. It prints, formats and marshals as "[redacted]",
// so that a Config written to a log, an error or a manifest never shows it.
type Secret string

const redacted = "[redacted]"

// String returns "[redacted]".
func (Secret) String() string { return redacted }

// GoString returns "[redacted]".
func (Secret) GoString() string { return redacted }

// MarshalJSON writes "[redacted]".
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText writes [redacted].
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Format writes [redacted] whatever the verb.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// APIKeyFromEnv reads the API key from the environment variable name
// (DefaultAPIKeyEnv when name is empty). A missing variable gives an empty
// key, which servers on loopback usually accept.
func APIKeyFromEnv(name string) Secret {
	if name == "" {
		name = DefaultAPIKeyEnv
	}
	return Secret(os.Getenv(name))
}

// Config configures a Client.
type Config struct {
	// BaseURL is the API root of an OpenAI-compatible server
	// (DefaultBaseURL when empty), e.g. http://127.0.0.1:8000/v1 for vLLM.
	BaseURL string
	// APIKey is sent as a bearer token when not empty; never logged or stored.
	APIKey Secret
	// MaxConcurrency bounds the requests in flight (DefaultMaxConcurrency).
	MaxConcurrency int
	// RequestsPerMinute and TokensPerMinute are token-bucket limits; 0 means
	// unlimited. Tokens are estimated before a request is sent (prompt
	// estimate plus MaxTokens) and corrected with the reported usage.
	RequestsPerMinute float64
	TokensPerMinute   float64
	// RequestTimeout bounds one attempt (DefaultRequestTimeout).
	RequestTimeout time.Duration
	// MaxAttempts bounds the attempts of one request (DefaultMaxAttempts).
	MaxAttempts int
	// BackoffBase and BackoffMax shape the exponential backoff with full
	// jitter between attempts: a random wait in [0, min(BackoffMax,
	// BackoffBase*2^(attempt-1))].
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// MaxRetryAfter caps a server's Retry-After (DefaultMaxRetryAfter).
	MaxRetryAfter time.Duration
	// HTTPClient replaces the default client, whose transport keeps
	// MaxConcurrency idle connections to the server.
	HTTPClient *http.Client
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.BaseURL == "" {
		d.BaseURL = DefaultBaseURL
	}
	d.BaseURL = NormalizeBaseURL(d.BaseURL)
	if d.MaxConcurrency <= 0 {
		d.MaxConcurrency = DefaultMaxConcurrency
	}
	if d.RequestTimeout <= 0 {
		d.RequestTimeout = DefaultRequestTimeout
	}
	if d.MaxAttempts <= 0 {
		d.MaxAttempts = DefaultMaxAttempts
	}
	if d.BackoffBase <= 0 {
		d.BackoffBase = DefaultBackoffBase
	}
	if d.BackoffMax <= 0 {
		d.BackoffMax = DefaultBackoffMax
	}
	if d.MaxRetryAfter <= 0 {
		d.MaxRetryAfter = DefaultMaxRetryAfter
	}
	return d
}

// Usage is the token usage of one answer, as the server reports it.
type Usage struct {
	PromptTokens int64 `json:"prompt_tokens"`
	// CachedPromptTokens is the part of PromptTokens read from the server's
	// prompt cache (billed at the cached-input price).
	CachedPromptTokens int64 `json:"cached_prompt_tokens,omitempty"`
	// CompletionTokens includes ReasoningTokens.
	CompletionTokens int64 `json:"completion_tokens"`
	ReasoningTokens  int64 `json:"reasoning_tokens,omitempty"`
}

// Total is prompt plus completion tokens.
func (u Usage) Total() int64 { return u.PromptTokens + u.CompletionTokens }

// Add returns the sum of two usages.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		PromptTokens:       u.PromptTokens + v.PromptTokens,
		CachedPromptTokens: u.CachedPromptTokens + v.CachedPromptTokens,
		CompletionTokens:   u.CompletionTokens + v.CompletionTokens,
		ReasoningTokens:    u.ReasoningTokens + v.ReasoningTokens,
	}
}

// UsageOf converts the SDK's usage.
func UsageOf(u openai.CompletionUsage) Usage {
	return Usage{
		PromptTokens:       u.PromptTokens,
		CachedPromptTokens: u.PromptTokensDetails.CachedTokens,
		CompletionTokens:   u.CompletionTokens,
		ReasoningTokens:    u.CompletionTokensDetails.ReasoningTokens,
	}
}

// Response is a received answer.
type Response struct {
	// Content is the answer text.
	Content string
	// Refusal is the model's refusal message, when it refused.
	Refusal string
	// Model is the model that answered, as the server reports it.
	Model        string
	FinishReason string
	// ServiceTier is the tier that served the request, as reported.
	ServiceTier string
	Usage       Usage
	// Attempts is the number of attempts made, 1 when the first succeeded.
	Attempts int
}

// ResponseOf converts an SDK completion; a completion without choices is an
// error.
func ResponseOf(c *openai.ChatCompletion) (*Response, error) {
	if len(c.Choices) == 0 {
		return nil, errors.New("the response has no choices")
	}
	ch := c.Choices[0]
	return &Response{
		Content:      ch.Message.Content,
		Refusal:      ch.Message.Refusal,
		Model:        c.Model,
		FinishReason: ch.FinishReason,
		ServiceTier:  string(c.ServiceTier),
		Usage:        UsageOf(c.Usage),
	}, nil
}

// Stats are a Client's counters since it was made.
type Stats struct {
	// Attempts counts HTTP requests sent; Retries the attempts after a
	// request's first.
	Attempts int64
	Retries  int64
	// RateLimited counts 429 answers; Timeouts attempts that ran past
	// RequestTimeout.
	RateLimited int64
	Timeouts    int64
}

// Client sends chat completions with flow control and retries. It is safe for
// concurrent use; make one per process (per Beam worker) and share it.
type Client struct {
	cfg  Config
	chat openai.ChatCompletionService
	// Files and Batches serve the Batch API.
	files   openai.FileService
	batches openai.BatchService
	flow    *flow
	rnd     *jitter

	attempts, retries, rateLimited, timeouts atomic.Int64
}

// New returns a Client. The SDK's own retries are off (flow control and
// retries are this package's) and it reads nothing from the environment: the
// base URL and key come from cfg only.
func New(cfg Config) (*Client, error) {
	c := cfg.withDefaults()
	if c.HTTPClient == nil {
		c.HTTPClient = newHTTPClient(c.MaxConcurrency)
	}
	opts := []option.RequestOption{
		option.WithBaseURL(c.BaseURL + "/"),
		// Always set, even empty, so that no key from elsewhere is sent.
		option.WithAPIKey(string(c.APIKey)),
		option.WithHTTPClient(c.HTTPClient),
		option.WithMaxRetries(0),
	}
	return &Client{
		cfg:     c,
		chat:    openai.NewChatCompletionService(opts...),
		files:   openai.NewFileService(opts...),
		batches: openai.NewBatchService(opts...),
		flow:    newFlow(c.MaxConcurrency, c.RequestsPerMinute, c.TokensPerMinute),
		rnd:     newJitter(),
	}, nil
}

// newHTTPClient returns a client whose transport keeps enough idle
// connections for the concurrency (Go's default keeps 2 per host, which would
// open and close a connection for most requests).
func newHTTPClient(concurrency int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = max(100, concurrency*2)
	t.MaxIdleConnsPerHost = concurrency
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Transport: t}
}

// BaseURL returns the server's API root, normalized.
func (c *Client) BaseURL() string { return c.cfg.BaseURL }

// MaxConcurrency returns the concurrency bound.
func (c *Client) MaxConcurrency() int { return c.cfg.MaxConcurrency }

// Files returns the SDK's files service (Batch API uploads and downloads).
func (c *Client) Files() *openai.FileService { return &c.files }

// Batches returns the SDK's batches service.
func (c *Client) Batches() *openai.BatchService { return &c.batches }

// Stats returns the counters.
func (c *Client) Stats() Stats {
	return Stats{
		Attempts:    c.attempts.Load(),
		Retries:     c.retries.Load(),
		RateLimited: c.rateLimited.Load(),
		Timeouts:    c.timeouts.Load(),
	}
}

// Complete sends a request and returns its answer. It retries 429s (after
// Retry-After and a cooldown shared by all requests), 408/409/5xx answers,
// timeouts and connection errors with exponential backoff and full jitter, up
// to MaxAttempts. A request that fails for good returns a *RequestError; a
// failure that no row can survive (bad key, unknown model, no quota) returns
// a *FatalError; a done ctx returns ctx's error.
func (c *Client) Complete(ctx context.Context, req *Request) (*Response, error) {
	if err := req.Validate(); err != nil {
		return nil, &RequestError{Message: err.Error()}
	}
	params := req.Params()
	est := req.EstimatePromptTokens() + req.MaxTokens
	for attempt := 1; ; attempt++ {
		resp, err := c.attempt(ctx, &params, est)
		if err == nil {
			resp.Attempts = attempt
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		f := classify(err, c.cfg.MaxRetryAfter)
		if f.fatal {
			return nil, &FatalError{Status: f.status, Message: f.message}
		}
		if !f.retryable || attempt >= c.cfg.MaxAttempts {
			return nil, &RequestError{Status: f.status, Message: f.message, Attempts: attempt, Body: f.body}
		}
		wait := c.rnd.backoff(attempt, c.cfg.BackoffBase, c.cfg.BackoffMax)
		if f.retryAfter > wait {
			wait = f.retryAfter
		}
		if f.status == http.StatusTooManyRequests {
			c.rateLimited.Add(1)
			c.flow.cooldown(wait)
		}
		if f.timeout {
			c.timeouts.Add(1)
		}
		c.retries.Add(1)
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// attempt sends the request once, inside the flow control.
func (c *Client) attempt(ctx context.Context, params *openaiParams, est int) (*Response, error) {
	if err := c.flow.acquire(ctx); err != nil {
		return nil, err
	}
	defer c.flow.release()
	if err := c.flow.admit(ctx, est); err != nil {
		return nil, err
	}
	actx, cancel := context.WithTimeoutCause(ctx, c.cfg.RequestTimeout, errAttemptTimeout)
	defer cancel()
	c.attempts.Add(1)
	var httpResp *http.Response
	completion, err := c.chat.New(actx, *params, option.WithResponseInto(&httpResp))
	if err != nil {
		if ctx.Err() == nil && errors.Is(context.Cause(actx), errAttemptTimeout) {
			return nil, &timeoutError{after: c.cfg.RequestTimeout, err: err}
		}
		return nil, err
	}
	resp, err := ResponseOf(completion)
	if err != nil {
		return nil, &emptyResponseError{err: err}
	}
	c.flow.settle(est, int(resp.Usage.Total()))
	return resp, nil
}

// openaiParams is the SDK's request type.
type openaiParams = openai.ChatCompletionNewParams
