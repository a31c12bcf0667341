package retryafter

import (
	"math"
	"net/http"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		header http.Header
		want   time.Duration
	}{
		{http.Header{"Retry-After": {"3"}}, 3 * time.Second},
		{http.Header{"Retry-After": {"0.5"}}, 500 * time.Millisecond},
		{http.Header{"Retry-After": {now.Add(7 * time.Second).Format(http.TimeFormat)}}, 7 * time.Second},
		{http.Header{"Retry-After": {now.Add(-7 * time.Second).Format(http.TimeFormat)}}, 0},
		{http.Header{"Retry-After": {"soon"}}, 0},
		{http.Header{"Retry-After": {"-1"}}, 0},
		{http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"9"}}, 250 * time.Millisecond},
		{http.Header{}, 0},
		// Absurd values saturate (and are then capped by the caller)
		// instead of overflowing into negative waits.
		{http.Header{"Retry-After": {"1e10"}}, time.Duration(math.MaxInt64)},
		{http.Header{"Retry-After": {"Inf"}}, time.Duration(math.MaxInt64)},
		{http.Header{"Retry-After-Ms": {"1e300"}}, time.Duration(math.MaxInt64)},
		{http.Header{"Retry-After": {"NaN"}}, 0},
	} {
		if got := Parse(c.header, now); got != c.want {
			t.Errorf("Parse(%v) = %v, want %v", c.header, got, c.want)
		}
	}
}
