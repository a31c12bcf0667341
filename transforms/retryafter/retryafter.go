// Package retryafter reads how long an HTTP server asks a client to wait
// before retrying (429 and 503 answers), for every client in the project
// (LLM endpoints, the Hugging Face Hub).
package retryafter

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Parse reads how long a server asks to wait: the retry-after-ms header
// (OpenAI's, milliseconds), else Retry-After in seconds or as an HTTP date
// (relative to now). It returns 0 when there is none. Absurd values
// saturate at the largest Duration instead of overflowing: callers cap the
// wait.
func Parse(h http.Header, now time.Time) time.Duration {
	if v := h.Get("retry-after-ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return duration(ms, time.Millisecond)
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		return duration(s, time.Second)
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// duration converts n units to a Duration, saturating instead of
// overflowing for huge values (or +Inf), so that callers can cap it.
func duration(n float64, unit time.Duration) time.Duration {
	if math.IsNaN(n) || n <= 0 {
		return 0
	}
	if n >= float64(math.MaxInt64)/float64(unit) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(n * float64(unit))
}
