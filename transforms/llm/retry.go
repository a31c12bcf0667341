package llm

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/winnowlabs/winnow/transforms/retryafter"
)

// RequestError is a request that failed for good: a non-retryable answer
// (e.g. 400 for a prompt over the context length) or every attempt failed.
// Its row goes to the errors sidecar with this reason.
type RequestError struct {
	// Status is the last HTTP status; 0 for timeouts and connection errors.
	Status  int
	Message string
	// Attempts is the number of attempts made.
	Attempts int
	// Body is the server's error body, when it sent one.
	Body string
}

// Error says how the request failed, with its attempts.
func (e *RequestError) Error() string {
	var what string
	if e.Status != 0 {
		what = fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
	} else {
		what = e.Message
	}
	if e.Attempts > 1 {
		return fmt.Sprintf("request failed after %d attempts: %s", e.Attempts, what)
	}
	return "request failed: " + what
}

// FatalError is a failure that every request would meet (401 bad key, 403,
// 404 unknown model or endpoint, 429 insufficient_quota): the run stops
// instead of sending every row to the errors sidecar.
type FatalError struct {
	Status  int
	Message string
}

// Error says what the server answered.
func (e *FatalError) Error() string {
	return fmt.Sprintf("the server refuses every request: HTTP %d: %s", e.Status, e.Message)
}

var errAttemptTimeout = errors.New("attempt timed out")

type timeoutError struct {
	after time.Duration
	err   error
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("no answer within the request timeout (%s)", e.after)
}
func (e *timeoutError) Unwrap() error { return e.err }

type emptyResponseError struct{ err error }

func (e *emptyResponseError) Error() string { return e.err.Error() }

// failure is the classification of an attempt's error.
type failure struct {
	status     int
	message    string
	body       string
	retryable  bool
	fatal      bool
	timeout    bool
	retryAfter time.Duration
}

// classify decides what to do after a failed attempt.
func classify(err error, maxRetryAfter time.Duration) failure {
	var apiErr *openai.Error
	var te *timeoutError
	var ee *emptyResponseError
	switch {
	case errors.As(err, &te):
		return failure{message: te.Error(), retryable: true, timeout: true}
	case errors.As(err, &ee):
		return failure{status: http.StatusOK, message: ee.Error()}
	case errors.As(err, &apiErr):
		f := failure{status: apiErr.StatusCode, message: apiErr.Message, body: apiErr.RawJSON()}
		if f.message == "" {
			f.message = http.StatusText(apiErr.StatusCode)
		}
		if apiErr.Response != nil {
			f.retryAfter = RetryAfter(apiErr.Response.Header, time.Now())
			if f.retryAfter > maxRetryAfter {
				f.retryAfter = maxRetryAfter
			}
		}
		switch s := apiErr.StatusCode; {
		case s == http.StatusTooManyRequests && apiErr.Code == "insufficient_quota":
			f.fatal = true
		case s == http.StatusUnauthorized || s == http.StatusForbidden || s == http.StatusNotFound:
			f.fatal = true
		case s == http.StatusTooManyRequests || s == http.StatusRequestTimeout || s == http.StatusConflict || s >= 500:
			f.retryable = true
		}
		return f
	default:
		// Connection refused or reset, EOF mid-answer, a body that does not
		// decode: the server may do better next time.
		return failure{message: oneLine(err.Error()), retryable: true}
	}
}

// RetryAfter reads how long a server asks to wait (see retryafter.Parse).
func RetryAfter(h http.Header, now time.Time) time.Duration { return retryafter.Parse(h, now) }

// jitter draws backoff waits.
type jitter struct {
	mu  sync.Mutex
	rnd *rand.Rand
}

func newJitter() *jitter {
	return &jitter{rnd: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
}

// backoff returns the wait after a failed attempt (1-based): full jitter, a
// uniform draw in [0, min(maxWait, base*2^(attempt-1))].
func (j *jitter) backoff(attempt int, base, maxWait time.Duration) time.Duration {
	ceiling := maxWait
	if attempt-1 < 32 {
		if d := base << (attempt - 1); d > 0 && d < maxWait {
			ceiling = d
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return time.Duration(j.rnd.Int64N(int64(ceiling) + 1))
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
