package hfhub

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultEndpoint is the public Hub.
const DefaultEndpoint = "https://huggingface.co"

// Client talks to a Hugging Face Hub and keeps what it downloads in the
// standard cache. The zero value is not usable: build one with FromEnv and
// adjust its fields before the first call.
type Client struct {
	// Endpoint is the Hub's base URL (HF_ENDPOINT; default
	// https://huggingface.co), e.g. a mirror or a private hub.
	Endpoint string
	// Token authenticates requests to the Hub (HF_TOKEN, else the token
	// file `huggingface-cli login` saves). It is sent only to the
	// endpoint's host, never to a CDN, and never logged or put in errors.
	Token string
	// CacheDir is the cache root (HF_HUB_CACHE, else $HF_HOME/hub, else
	// ~/.cache/huggingface/hub).
	CacheDir string
	// Offline answers from the cache only, without any request
	// (HF_HUB_OFFLINE=1).
	Offline bool
	// HTTP sends the requests (default: a client without redirects, which
	// the Client follows itself).
	HTTP *http.Client
	// Workers is the number of files downloaded at the same time
	// (default 8, as snapshot_download).
	Workers int
	// MaxRetries bounds the retries of one request answered 429 or 5xx,
	// and the resumptions of one file whose connection dropped without
	// progress (default 5).
	MaxRetries int
	// MaxWait caps one wait between retries, however long a Retry-After
	// asks for (default 2 minutes).
	MaxWait time.Duration
	// Progress receives a live byte/ETA line while files download (redrawn
	// on a terminal, a line every ProgressInterval otherwise), retry and
	// resume notices, and a summary line; nil silences them.
	Progress io.Writer
	// ProgressInterval spaces progress lines when Progress is not a
	// terminal (default 30s).
	ProgressInterval time.Duration

	// sleep waits between retries (tests replace it).
	sleep func(ctx context.Context, d time.Duration) error
	// stall is how long a download may receive nothing before it is
	// resumed on a new connection (default stallTimeout; tests shorten it).
	stall time.Duration
}

// Timeouts of a silent server: for an answer's headers, and for the next
// bytes of a download.
const (
	headerTimeout = time.Minute
	stallTimeout  = time.Minute
)

// FromEnv returns a Client configured as huggingface_hub configures itself
// from the environment: HF_ENDPOINT, HF_TOKEN (or HF_TOKEN_PATH, or the
// token file in HF_HOME), HF_HUB_CACHE / HF_HOME / XDG_CACHE_HOME and
// HF_HUB_OFFLINE. Progress goes to standard error.
func FromEnv() *Client {
	return &Client{
		Endpoint: envOr("HF_ENDPOINT", DefaultEndpoint),
		Token:    envToken(),
		CacheDir: CacheDirFromEnv(),
		Offline:  envTrue("HF_HUB_OFFLINE") || envTrue("TRANSFORMERS_OFFLINE"),
		Progress: os.Stderr,
	}
}

// CacheDirFromEnv returns the Hub cache directory the environment selects,
// as huggingface_hub does: HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else
// $HF_HOME/hub, where HF_HOME defaults to $XDG_CACHE_HOME/huggingface or
// ~/.cache/huggingface.
func CacheDirFromEnv() string {
	if d := firstEnv("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"); d != "" {
		return expandPath(d)
	}
	return filepath.Join(hfHome(), "hub")
}

func hfHome() string {
	if d := os.Getenv("HF_HOME"); d != "" {
		return expandPath(d)
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(expandPath(cache), "huggingface")
}

// envToken reads the token as huggingface_hub's get_token does: HF_TOKEN
// (or the legacy HUGGING_FACE_HUB_TOKEN), else the file at HF_TOKEN_PATH,
// else $HF_HOME/token.
func envToken() string {
	if t := strings.TrimSpace(firstEnv("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")); t != "" {
		return t
	}
	p := os.Getenv("HF_TOKEN_PATH")
	if p == "" {
		p = filepath.Join(hfHome(), "token")
	}
	b, err := os.ReadFile(expandPath(p))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func envOr(key, def string) string {
	if v := strings.TrimSpace(os.Getenv(key)); v != "" {
		return v
	}
	return def
}

func firstEnv(keys ...string) string {
	for _, k := range keys {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// envTrue reads a boolean the way huggingface_hub does: 1, ON, YES or TRUE.
func envTrue(key string) bool {
	switch strings.ToUpper(strings.TrimSpace(os.Getenv(key))) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

// expandPath expands environment variables and a leading ~.
func expandPath(p string) string {
	p = os.ExpandEnv(p)
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[1:])
		}
	}
	return p
}

func (c *Client) endpoint() string {
	if c.Endpoint == "" {
		return DefaultEndpoint
	}
	return strings.TrimRight(c.Endpoint, "/")
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return noRedirects
}

// noRedirects hands 3xx answers back (the Client follows a repository
// rename itself and downloads from a CDN without the token), and gives up
// on a server that does not answer.
var noRedirects = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = headerTimeout
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}()

func (c *Client) workers() int {
	if c.Workers > 0 {
		return c.Workers
	}
	return 8
}

func (c *Client) maxRetries() int {
	if c.MaxRetries > 0 {
		return c.MaxRetries
	}
	return 5
}

func (c *Client) maxWait() time.Duration {
	if c.MaxWait > 0 {
		return c.MaxWait
	}
	return 2 * time.Minute
}

func (c *Client) stallTimeout() time.Duration {
	if c.stall > 0 {
		return c.stall
	}
	return stallTimeout
}

func (c *Client) wait(ctx context.Context, d time.Duration) error {
	if c.sleep != nil {
		return c.sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
