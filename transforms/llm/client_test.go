package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/internal/testutil/fakeopenai"
)

// fastConfig is a client config with short waits for tests.
func fastConfig(url string) Config {
	return Config{
		BaseURL:        url,
		MaxConcurrency: 8,
		RequestTimeout: 2 * time.Second,
		MaxAttempts:    4,
		BackoffBase:    5 * time.Millisecond,
		BackoffMax:     20 * time.Millisecond,
	}
}

func userRequest(url, text string) *Request {
	return &Request{BaseURL: url, Model: "test-model", Messages: []Message{{Role: RoleUser, Content: text}}}
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCompleteSendsTheRequest(t *testing.T) {
	var mu sync.Mutex
	var got []fakeopenai.ChatRequest
	srv := fakeopenai.New(fakeopenai.Config{Answer: func(r *fakeopenai.ChatRequest) string {
		mu.Lock()
		got = append(got, *r)
		mu.Unlock()
		return fakeopenai.DefaultAnswer(r)
	}})
	defer srv.Close()
	c := newClient(t, fastConfig(srv.URL))
	req := baseRequest()
	req.BaseURL = srv.URL
	resp, err := c.Complete(context.Background(), &req)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("server saw %d requests", len(got))
	}
	r := got[0]
	if r.Model != "gpt-4o-mini" || len(r.Messages) != 2 || r.Messages[0].Role != "system" || r.Messages[1].Content != "Rate: doc" {
		t.Errorf("messages = %+v", r)
	}
	if r.MaxTokens == nil || *r.MaxTokens != 100 || r.MaxCompletionTokens != nil {
		t.Errorf("a loopback server should get max_tokens: %v %v", r.MaxTokens, r.MaxCompletionTokens)
	}
	if r.Temperature == nil || *r.Temperature != 0 || r.ReasoningEffort != "low" || r.ServiceTier != "flex" {
		t.Errorf("sampling options = %v %q %q", r.Temperature, r.ReasoningEffort, r.ServiceTier)
	}
	if r.ResponseFormat == nil || r.ResponseFormat.Type != "json_schema" || r.ResponseFormat.JSONSchema.Name != "p" ||
		string(r.ResponseFormat.JSONSchema.Schema) != `{"type":"object","properties":{"score":{"type":"integer"}}}` {
		t.Errorf("response_format = %+v", r.ResponseFormat)
	}
	var answer map[string]any
	if err := json.Unmarshal([]byte(resp.Content), &answer); err != nil {
		t.Errorf("answer %q: %v", resp.Content, err)
	}
	if resp.Attempts != 1 || resp.Usage.PromptTokens == 0 || resp.Usage.CompletionTokens == 0 || resp.Model != "gpt-4o-mini" {
		t.Errorf("response = %+v", resp)
	}

	req.MaxTokensField = MaxCompletionTokensField
	if _, err := c.Complete(context.Background(), &req); err != nil {
		t.Fatal(err)
	}
	if r := got[1]; r.MaxTokens != nil || r.MaxCompletionTokens == nil || *r.MaxCompletionTokens != 100 {
		t.Errorf("max_completion_tokens not sent: %v %v", r.MaxTokens, r.MaxCompletionTokens)
	}
}

// schedule returns a fault function that applies faults[attempt-1] to every
// request (None past the end).
func schedule(faults ...fakeopenai.Fault) func(*fakeopenai.ChatRequest, int) fakeopenai.Fault {
	return func(_ *fakeopenai.ChatRequest, attempt int) fakeopenai.Fault {
		if attempt <= len(faults) {
			return faults[attempt-1]
		}
		return fakeopenai.Fault{}
	}
}

func TestCompleteRetriesHonouringRetryAfter(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{Fault: schedule(
		fakeopenai.Fault{Kind: fakeopenai.RateLimit, RetryAfter: "1"},
		fakeopenai.Fault{Kind: fakeopenai.ServerError},
		fakeopenai.Fault{Kind: fakeopenai.Hang},
	)})
	defer srv.Close()
	cfg := fastConfig(srv.URL)
	cfg.RequestTimeout = 500 * time.Millisecond
	c := newClient(t, cfg)
	start := time.Now()
	resp, err := c.Complete(context.Background(), userRequest(srv.URL, "Final score please"))
	if err != nil {
		t.Fatal(err)
	}
	// The backoff is at most 20ms: only Retry-After explains a 1s wait.
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("answered after %v: Retry-After: 1 was not honoured", elapsed)
	}
	if resp.Attempts != 4 {
		t.Errorf("attempts = %d, want 4 (429, 500, timeout, answer)", resp.Attempts)
	}
	st := c.Stats()
	if st.Attempts != 4 || st.Retries != 3 || st.RateLimited != 1 || st.Timeouts != 1 {
		t.Errorf("stats = %+v", st)
	}
	var statuses []string
	for _, e := range srv.Events() {
		statuses = append(statuses, fmt.Sprint(e.Fault))
	}
	if got := strings.Join(statuses, ","); got != "rate-limit,server-error,hang,none" {
		t.Errorf("server saw %s", got)
	}
}

func TestCompleteGivesUp(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{Fault: func(r *fakeopenai.ChatRequest, _ int) fakeopenai.Fault {
		if strings.Contains(r.Prompt(), "too long") {
			return fakeopenai.Fault{Kind: fakeopenai.BadRequest}
		}
		return fakeopenai.Fault{Kind: fakeopenai.ServerError}
	}})
	defer srv.Close()
	c := newClient(t, fastConfig(srv.URL))
	_, err := c.Complete(context.Background(), userRequest(srv.URL, "always fails"))
	var re *RequestError
	if !errors.As(err, &re) || re.Status != 500 || re.Attempts != 4 {
		t.Fatalf("err = %v, want a RequestError after 4 attempts of HTTP 500", err)
	}
	if !strings.Contains(re.Error(), "after 4 attempts: HTTP 500") {
		t.Errorf("message %q", re.Error())
	}
	_, err = c.Complete(context.Background(), userRequest(srv.URL, "too long"))
	if !errors.As(err, &re) || re.Status != 400 || re.Attempts != 1 || !strings.Contains(re.Body, "context length") {
		t.Fatalf("err = %v, want a RequestError after 1 attempt of HTTP 400 with the body", err)
	}
}

func TestFatalErrorsStopAtOnce(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{APIKey: "sk-right"})
	defer srv.Close()
	cfg := fastConfig(srv.URL)
	cfg.APIKey = "sk-wrong-SECRET-4242"
	c := newClient(t, cfg)
	_, err := c.Complete(context.Background(), userRequest(srv.URL, "x"))
	var fe *FatalError
	if !errors.As(err, &fe) || fe.Status != 401 {
		t.Fatalf("err = %v, want a FatalError 401", err)
	}
	if strings.Contains(err.Error(), "SECRET-4242") {
		t.Errorf("the error shows the key: %v", err)
	}
	if n, _ := srv.Counts(); n != 0 {
		// Rejected by the auth check before the chat handler: no event.
		t.Errorf("server logged %d chat requests", n)
	}

	quota := fakeopenai.New(fakeopenai.Config{Fault: schedule(fakeopenai.Fault{Kind: fakeopenai.InsufficientQuota})})
	defer quota.Close()
	c = newClient(t, fastConfig(quota.URL))
	if _, err := c.Complete(context.Background(), userRequest(quota.URL, "x")); !errors.As(err, &fe) {
		t.Fatalf("insufficient_quota: err = %v, want a FatalError", err)
	}
	if n, _ := quota.Counts(); n != 1 {
		t.Errorf("insufficient_quota was retried: %d requests", n)
	}
}

func TestAPIKeyIsSentButNeverShown(t *testing.T) {
	const key = "sk-test-SECRET-7f3a9c"
	srv := fakeopenai.New(fakeopenai.Config{APIKey: key})
	defer srv.Close()
	cfg := fastConfig(srv.URL)
	cfg.APIKey = Secret(key)
	c := newClient(t, cfg)
	if _, err := c.Complete(context.Background(), userRequest(srv.URL, "x")); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%s", cfg.APIKey), string(b), cfg.APIKey.String()} {
		if strings.Contains(s, "SECRET") {
			t.Errorf("the key shows in %q", s)
		}
	}
}

func TestNoKeyFromTheEnvironmentIsSent(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-env-SECRET")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	srv := fakeopenai.New(fakeopenai.Config{})
	defer srv.Close()
	c := newClient(t, fastConfig(srv.URL))
	if _, err := c.Complete(context.Background(), userRequest(srv.URL, "x")); err != nil {
		t.Fatal(err)
	}
	if ev := srv.Events(); len(ev) != 1 || ev[0].Authorized {
		t.Errorf("events = %+v: a key from the environment was sent", ev)
	}
	if got := APIKeyFromEnv(""); string(got) != "sk-env-SECRET" {
		t.Errorf("APIKeyFromEnv default variable: %q", string(got))
	}
	t.Setenv("MY_KEY", "sk-mine")
	if got := APIKeyFromEnv("MY_KEY"); string(got) != "sk-mine" {
		t.Errorf("APIKeyFromEnv(MY_KEY) = %q", string(got))
	}
}

// After a 429 every worker pauses: no request is sent during the 2s Retry-After
// window, although seven other workers have rows to send.
func TestRateLimitCooldownIsShared(t *testing.T) {
	var mu sync.Mutex
	var limitedAt time.Time
	arrivals := []time.Time{}
	srv := fakeopenai.New(fakeopenai.Config{
		Latency: 20 * time.Millisecond,
		Fault: func(r *fakeopenai.ChatRequest, attempt int) fakeopenai.Fault {
			mu.Lock()
			defer mu.Unlock()
			arrivals = append(arrivals, time.Now())
			if r.Prompt() == "row 5" && attempt == 1 {
				limitedAt = time.Now().Add(20 * time.Millisecond) // written after the latency
				return fakeopenai.Fault{Kind: fakeopenai.RateLimit, RetryAfter: "2"}
			}
			return fakeopenai.Fault{}
		},
	})
	defer srv.Close()
	c := newClient(t, fastConfig(srv.URL))
	var wg sync.WaitGroup
	// 600 rows at 20ms by 8 workers: 1.5s of traffic without the cooldown.
	for i := range 600 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Complete(context.Background(), userRequest(srv.URL, fmt.Sprintf("row %d", i))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if limitedAt.IsZero() {
		t.Fatal("no 429 was sent")
	}
	// Requests already on their way when the 429 reached the client may
	// arrive just after it; none may arrive later within the window.
	from, to := limitedAt.Add(500*time.Millisecond), limitedAt.Add(1800*time.Millisecond)
	for _, a := range arrivals {
		if a.After(from) && a.Before(to) {
			t.Fatalf("a request arrived %v after the 429, inside its 2s Retry-After", a.Sub(limitedAt))
		}
	}
}

func TestRequestsPerMinuteLimit(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{})
	defer srv.Close()
	cfg := fastConfig(srv.URL)
	cfg.RequestsPerMinute = 1200 // 20/s with a burst of 20
	c := newClient(t, cfg)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Complete(context.Background(), userRequest(srv.URL, fmt.Sprint(i))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// 20 at once, then 30 more at 20/s: at least 1.5s.
	if elapsed := time.Since(start); elapsed < 1400*time.Millisecond {
		t.Errorf("50 requests at 1200/min took %v, want >= 1.5s", elapsed)
	}
}

func TestTokensPerMinuteLimit(t *testing.T) {
	answer := strings.Repeat("long ", 320) // 1600 characters: 400 completion tokens
	srv := fakeopenai.New(fakeopenai.Config{Answer: func(*fakeopenai.ChatRequest) string { return answer }})
	defer srv.Close()
	cfg := fastConfig(srv.URL)
	cfg.TokensPerMinute = 60 * 1000 // 1000 tokens/s, burst 1000
	c := newClient(t, cfg)
	req := userRequest(srv.URL, strings.Repeat("word ", 80)) // ~107 prompt tokens estimated
	req.MaxTokens = 400                                      // counted in the estimate: ~507 per request
	start := time.Now()
	for range 6 {
		if _, err := c.Complete(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	// About 3,000 tokens at 1,000/s with a burst of 1,000: at least 2s.
	if elapsed := time.Since(start); elapsed < 1800*time.Millisecond {
		t.Errorf("6 requests of ~500 tokens at 60k tokens/min took %v, want >= 2s", elapsed)
	}
	// A request larger than the burst is split, not refused.
	big := userRequest(srv.URL, strings.Repeat("x", 6000)) // ~1500 tokens > burst 1000
	if _, err := c.Complete(context.Background(), big); err != nil {
		t.Fatalf("a request above the burst failed: %v", err)
	}
}

func TestTokenBucketSettlement(t *testing.T) {
	b := newTokenBucket(60) // 1 token/s, burst 1
	b.adjust(-5)            // 5 unused tokens: credit capped at the burst
	if b.credit != 1 {
		t.Errorf("credit = %d, want 1 (capped)", b.credit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.wait(ctx, 1); err != nil { // paid from the credit
		t.Errorf("wait with credit: %v", err)
	}
	if err := b.wait(ctx, 1); err != nil { // the bucket's initial token
		t.Errorf("wait with a full bucket: %v", err)
	}
	b.adjust(3) // debt: 3 more tokens used than estimated
	if err := b.wait(ctx, 1); err == nil {
		t.Error("a wait after a debt of 3 tokens at 1/s finished within 50ms")
	}
}
