package hfhub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Kinds of Hub failure; an *Error matches its kind with errors.Is.
var (
	// ErrRepoNotFound: no such repository, or a private one the token
	// cannot see.
	ErrRepoNotFound = errors.New("repository not found")
	// ErrRevisionNotFound: the repository has no such branch, tag or
	// commit.
	ErrRevisionNotFound = errors.New("revision not found")
	// ErrEntryNotFound: the repository has no such file at the revision.
	ErrEntryNotFound = errors.New("file not found")
	// ErrGated: a gated repository without a token, or with a token that
	// was not granted access.
	ErrGated = errors.New("gated repository")
	// ErrRateLimited: still answered 429 after every retry.
	ErrRateLimited = errors.New("rate limited")
	// ErrNotCached: offline, and the cache lacks what was asked for.
	ErrNotCached = errors.New("not in the cache")
	// ErrVerify: a file downloaded twice did not have the size or hash the
	// Hub lists.
	ErrVerify = errors.New("verification failed")
	// ErrHTTP: any other unexpected answer.
	ErrHTTP = errors.New("unexpected answer")
)

// Error is a failure to get something from the Hub or the cache. Its
// message names the repository, the revision and the file; it never holds
// the token.
type Error struct {
	Kind error
	Repo Repo
	// File is the file concerned ("" for the repository itself).
	File string
	// Status is the HTTP status, when there was an answer.
	Status int
	// Detail completes the message (the server's message, the cache path
	// and the missing files, the hash mismatch).
	Detail string
	// endpoint and token say where the request went and whether a token
	// was sent, for the message's advice.
	endpoint string
	token    bool
}

func (e *Error) Error() string {
	var b strings.Builder
	what := e.Repo.String()
	if e.File != "" {
		what = fmt.Sprintf("%s: %s", e.Repo, e.File)
	}
	switch e.Kind {
	case ErrRepoNotFound:
		fmt.Fprintf(&b, "%s not found on %s", e.Repo, e.endpoint)
		if e.token {
			b.WriteString(" (or the token in HF_TOKEN has no access to it)")
		} else {
			b.WriteString(" (if it is private, set HF_TOKEN to a token that can read it)")
		}
	case ErrRevisionNotFound:
		fmt.Fprintf(&b, "%s %s has no revision %q", strings.TrimSuffix(string(e.Repo.Type), "s"), e.Repo.ID, e.Repo.Rev())
	case ErrEntryNotFound:
		fmt.Fprintf(&b, "%s has no file %s", e.Repo, e.File)
	case ErrGated:
		fmt.Fprintf(&b, "%s is gated", e.Repo)
		if e.token {
			fmt.Fprintf(&b, " and the token in HF_TOKEN has not been granted access: request it on %s", e.Repo.page(e.endpoint))
		} else {
			fmt.Fprintf(&b, ": accept its conditions on %s, then set HF_TOKEN to a token of that account", e.Repo.page(e.endpoint))
		}
	case ErrRateLimited:
		fmt.Fprintf(&b, "%s: the Hub still answers 429 Too Many Requests after every retry; try again later", what)
	case ErrNotCached:
		fmt.Fprintf(&b, "%s: HF_HUB_OFFLINE is set and the cache lacks it", what)
	case ErrVerify:
		fmt.Fprintf(&b, "%s: downloaded twice, and still not what the Hub lists", what)
	default:
		fmt.Fprintf(&b, "%s: unexpected answer from %s", what, e.endpoint)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Is matches the error's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the kind.
func (e *Error) Unwrap() error { return e.Kind }

func (c *Client) newError(kind error, repo Repo, file string, status int, detail string) *Error {
	return &Error{Kind: kind, Repo: repo, File: file, Status: status, Detail: detail, endpoint: c.endpoint(), token: c.Token != ""}
}

// answerError turns a failed answer into an *Error, as hf_raise_for_status
// reads the Hub's X-Error-Code and X-Error-Message headers. api tells an
// API call from a file request (a bare 404 means no repository for the
// one, no file for the other).
func (c *Client) answerError(resp *http.Response, repo Repo, file string, api bool) *Error {
	code := resp.Header.Get("X-Error-Code")
	msg := serverMessage(resp)
	kind := ErrHTTP
	switch {
	case code == "RevisionNotFound":
		kind = ErrRevisionNotFound
	case code == "EntryNotFound":
		kind = ErrEntryNotFound
	case code == "GatedRepo":
		kind = ErrGated
	case code == "RepoNotFound", resp.StatusCode == http.StatusUnauthorized:
		// The Hub answers 401 for missing and private repositories alike.
		kind = ErrRepoNotFound
	case resp.StatusCode == http.StatusNotFound && api:
		kind = ErrRepoNotFound
	case resp.StatusCode == http.StatusNotFound:
		kind = ErrEntryNotFound
	case resp.StatusCode == http.StatusTooManyRequests:
		kind = ErrRateLimited
	}
	if kind != ErrHTTP && kind != ErrRateLimited {
		// The kind says it; the server's wording would repeat it.
		msg = ""
	}
	return c.newError(kind, repo, file, resp.StatusCode, msg)
}

// serverMessage is the server's own explanation: X-Error-Message, else the
// "error" field of a JSON body, else the start of the body.
func serverMessage(resp *http.Response) string {
	if m := resp.Header.Get("X-Error-Message"); m != "" {
		return m
	}
	if resp.Body == nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	var body struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil && body.Error != "" {
		return body.Error
	}
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
