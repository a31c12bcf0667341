package hfhub

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/winnowlabs/winnow/internal/version"
	"github.com/winnowlabs/winnow/transforms/progress"
	"github.com/winnowlabs/winnow/transforms/retryafter"
)

// retryable lists the answers worth asking again, as huggingface_hub's
// http_backoff: rate limiting, timeouts and server errors.
func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusRequestTimeout, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// backoff is the wait before retry n (1-based) when the server names none:
// 1, 2, 4, 8, 8... seconds.
func backoff(n int) time.Duration {
	return time.Second << min(n-1, 3)
}

// newRequest builds a request to the Hub. The token goes only to the
// endpoint's host: a CDN the Hub redirects to gets a signed URL instead.
func (c *Client) newRequest(ctx context.Context, method, target string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "winnow/"+version.String()+"; hf_hub/compatible")
	// The real size, not a compressed one: sizes and Range offsets are of
	// the file itself.
	req.Header.Set("Accept-Encoding", "identity")
	if c.Token != "" && sameHost(target, c.endpoint()) {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	return req, nil
}

func sameHost(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Host == ub.Host
}

// send issues a request and retries answers 429, 408 and 5xx up to
// MaxRetries times, waiting as the answer's Retry-After asks (capped at
// MaxWait), else 1, 2, 4, 8 seconds. It returns the last answer, which the
// caller checks; a transport error comes back as is, without retry (an
// unreachable Hub fails fast).
func (c *Client) send(ctx context.Context, what string, method, target string, header http.Header) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		req, err := c.newRequest(ctx, method, target)
		if err != nil {
			return nil, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := c.httpClient().Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, redactURL(err))
		}
		if !retryable(resp.StatusCode) || attempt > c.maxRetries() {
			return resp, nil
		}
		d := retryafter.Parse(resp.Header, time.Now())
		if d == 0 {
			d = backoff(attempt)
		}
		d = min(d, c.maxWait())
		drain(resp)
		c.notice("%s: HTTP %d, retrying in %s (retry %d of %d)", what, resp.StatusCode, d.Round(time.Millisecond), attempt, c.maxRetries())
		if err := c.wait(ctx, d); err != nil {
			return nil, err
		}
	}
}

// sendFollowing sends like send and follows relative redirects (a
// renamed repository answers with one), at most five; an absolute
// redirect (to a CDN) comes back to the caller. It returns the last answer
// and the URL that gave it.
func (c *Client) sendFollowing(ctx context.Context, what, method, target string) (*http.Response, string, error) {
	for hops := 0; ; hops++ {
		resp, err := c.send(ctx, what, method, target, nil)
		if err != nil {
			return nil, "", err
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode >= 400 || loc == "" || hops == 5 {
			return resp, target, nil
		}
		u, err := url.Parse(loc)
		if err != nil || u.Host != "" {
			return resp, target, nil
		}
		drain(resp)
		base, _ := url.Parse(target)
		target = base.ResolveReference(u).String()
	}
}

// redactURL drops the query of a URL in a transport error: a CDN's signed
// URL carries credentials.
func redactURL(err error) error {
	if ue, ok := err.(*url.Error); ok {
		if u, perr := url.Parse(ue.URL); perr == nil && u.RawQuery != "" {
			u.RawQuery = ""
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}

// drain reads a little of a discarded body so its connection can be
// reused, and closes it.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 4096)
	resp.Body.Close()
}

// notice writes a line about retries and resumptions to Progress.
func (c *Client) notice(format string, args ...any) {
	if c.Progress == nil {
		return
	}
	if progress.IsTerminal(c.Progress) {
		fmt.Fprint(c.Progress, "\r\033[K")
	}
	fmt.Fprintf(c.Progress, "hub: "+format+"\n", args...)
}
