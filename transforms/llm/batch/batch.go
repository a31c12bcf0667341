// Package batch sends annotation requests through the OpenAI Batch API:
// requests are written as batch JSONL (custom_id = the request's cache key),
// uploaded through the files endpoint (purpose "batch"), a batch is created
// for /v1/chat/completions with a 24h window and polled with backoff, and the
// output and error files are downloaded and stored in the response cache,
// from where the annotator joins them back to rows.
//
// A small JSON state file (placed by the caller in the output directory, one
// per shard) records every uploaded file and created batch before the next
// step, so a run that is killed and started again re-polls its batches
// instead of creating new ones. A batch created whose id was not recorded
// (killed between the two) is found again by its input file id.
package batch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/shared"

	"github.com/winnowlabs/winnow/transforms/llm"
	"github.com/winnowlabs/winnow/transforms/llm/cache"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// Limits of one batch (OpenAI: 50,000 requests and 200 MB per input file).
const (
	DefaultMaxRequests = 50000
	DefaultMaxBytes    = 190 << 20
)

// Defaults of polling: the interval grows by half each poll up to the
// maximum.
const (
	DefaultPollInterval    = 10 * time.Second
	DefaultMaxPollInterval = 5 * time.Minute
)

// metadataInputFile is the batch metadata key holding the input file id,
// used to find a batch whose id was not recorded.
const metadataInputFile = "winnow_input_file"

// Options configure Run.
type Options struct {
	// StatePath is the state file (required).
	StatePath string
	// PollInterval and MaxPollInterval shape polling.
	PollInterval    time.Duration
	MaxPollInterval time.Duration
	// MaxRequests and MaxBytes split the requests into batches.
	MaxRequests int
	MaxBytes    int
	// Logger receives progress lines (slog.Default() when nil).
	Logger *slog.Logger
	// Stored, when set, is called with every result stored in the cache.
	Stored func(cache.Entry)
}

// Job is one request to send.
type Job struct {
	Request *llm.Request
	// Key is Request.Key(), the custom_id.
	Key string
}

// Summary counts what a Run did.
type Summary struct {
	// Resumed counts batches of an earlier run that this run joined;
	// Created counts batches this run created.
	Resumed, Created int
	// Answers and Failures count results stored in the cache; NotRun
	// counts requests that expired or were cancelled (sent again by a later
	// run).
	Answers, Failures, NotRun int
	// Usage sums the answers' usage.
	Usage llm.Usage
}

// Run sends jobs through the Batch API and stores every result in store:
// first it joins the unfinished batches recorded in the state file, then it
// submits the jobs that those batches did not cover, waits for them, and
// joins them. It returns when every batch is finished, or with ctx's error
// (the state file lets a later Run resume).
func Run(ctx context.Context, client *llm.Client, store *cache.Store, jobs []Job, opts Options) (Summary, error) {
	r := &runner{client: client, store: store, opts: opts.withDefaults()}
	if r.opts.StatePath == "" {
		return Summary{}, errors.New("batch: no state file")
	}
	st, err := LoadState(ctx, r.opts.StatePath)
	if err != nil {
		return Summary{}, err
	}
	r.state = st
	covered := map[string]bool{}
	for i := range st.Batches {
		b := &st.Batches[i]
		if b.Joined {
			continue
		}
		if err := r.finish(ctx, b); err != nil {
			return r.sum, err
		}
		r.sum.Resumed++
		for _, k := range b.Keys {
			covered[k] = true
		}
	}
	var todo []Job
	seen := map[string]bool{}
	for _, j := range jobs {
		if covered[j.Key] || seen[j.Key] {
			continue
		}
		seen[j.Key] = true
		todo = append(todo, j)
	}
	for len(todo) > 0 {
		data, keys, rest, err := r.encode(todo)
		if err != nil {
			return r.sum, err
		}
		todo = rest
		b, err := r.submit(ctx, data, keys)
		if err != nil {
			return r.sum, err
		}
		r.sum.Created++
		if err := r.finish(ctx, b); err != nil {
			return r.sum, err
		}
	}
	return r.sum, nil
}

func (o Options) withDefaults() Options {
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.MaxPollInterval <= 0 {
		o.MaxPollInterval = DefaultMaxPollInterval
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = DefaultMaxRequests
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

type runner struct {
	client *llm.Client
	store  *cache.Store
	opts   Options
	state  *State
	sum    Summary
}

// line is one request of a batch input file.
type line struct {
	CustomID string                         `json:"custom_id"`
	Method   string                         `json:"method"`
	URL      string                         `json:"url"`
	Body     openai.ChatCompletionNewParams `json:"body"`
}

// saveState writes the state file, even once ctx is cancelled: the batch
// ids recorded are what a later run resumes from.
func (r *runner) saveState(ctx context.Context) error {
	return r.state.Save(context.WithoutCancel(ctx), r.opts.StatePath)
}

// encode writes jobs as batch JSONL up to the batch limits and returns the
// jobs left over.
func (r *runner) encode(jobs []Job) (data []byte, keys []string, rest []Job, err error) {
	var buf bytes.Buffer
	for i, j := range jobs {
		b, err := json.Marshal(line{CustomID: j.Key, Method: http.MethodPost, URL: "/v1/chat/completions", Body: j.Request.Params()})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("batch: encode request: %w", err)
		}
		if len(keys) > 0 && (len(keys) == r.opts.MaxRequests || buf.Len()+len(b)+1 > r.opts.MaxBytes) {
			return buf.Bytes(), keys, jobs[i:], nil
		}
		buf.Write(b)
		buf.WriteByte('\n')
		keys = append(keys, j.Key)
	}
	return buf.Bytes(), keys, nil, nil
}

// submit uploads an input file and creates its batch, recording each step in
// the state file before taking the next.
func (r *runner) submit(ctx context.Context, data []byte, keys []string) (*BatchState, error) {
	f, err := r.client.Files().New(ctx, openai.FileNewParams{
		File:    openai.File(bytes.NewReader(data), "winnow-batch.jsonl", "application/jsonl"),
		Purpose: openai.FilePurposeBatch,
	})
	if err != nil {
		return nil, fmt.Errorf("batch: upload input file: %w", err)
	}
	r.state.Batches = append(r.state.Batches, BatchState{InputFileID: f.ID, Keys: keys, Requests: len(keys)})
	b := &r.state.Batches[len(r.state.Batches)-1]
	if err := r.saveState(ctx); err != nil {
		return nil, err
	}
	if err := r.create(ctx, b); err != nil {
		return nil, err
	}
	return b, nil
}

func (r *runner) create(ctx context.Context, b *BatchState) error {
	batch, err := r.client.Batches().New(ctx, openai.BatchNewParams{
		InputFileID:      b.InputFileID,
		Endpoint:         openai.BatchNewParamsEndpointV1ChatCompletions,
		CompletionWindow: openai.BatchNewParamsCompletionWindow24h,
		Metadata:         shared.Metadata{metadataInputFile: b.InputFileID},
	})
	if err != nil {
		return fmt.Errorf("batch: create batch: %w", err)
	}
	b.ID = batch.ID
	b.Status = string(batch.Status)
	if err := r.saveState(ctx); err != nil {
		return err
	}
	r.opts.Logger.Info("batch created", "batch", b.ID, "requests", b.Requests)
	return nil
}

// finish makes sure a recorded batch exists, waits until it ends, and joins
// its results.
func (r *runner) finish(ctx context.Context, b *BatchState) error {
	if b.ID == "" {
		id, err := r.findByInputFile(ctx, b.InputFileID)
		if err != nil {
			return err
		}
		if id == "" {
			if err := r.create(ctx, b); err != nil {
				return err
			}
		} else {
			b.ID = id
			if err := r.saveState(ctx); err != nil {
				return err
			}
		}
	}
	batch, err := r.poll(ctx, b)
	if err != nil {
		return err
	}
	if batch.Status == openai.BatchStatusFailed {
		msg := "no reason given"
		if len(batch.Errors.Data) > 0 {
			e := batch.Errors.Data[0]
			msg = fmt.Sprintf("%s: %s (line %d)", e.Code, e.Message, e.Line)
		}
		b.Joined = true
		if err := r.saveState(ctx); err != nil {
			return err
		}
		return fmt.Errorf("batch %s failed: %s", b.ID, msg)
	}
	answered := map[string]bool{}
	for _, id := range []string{batch.OutputFileID, batch.ErrorFileID} {
		if id == "" {
			continue
		}
		if err := r.join(ctx, id, answered); err != nil {
			return fmt.Errorf("batch %s: %w", b.ID, err)
		}
	}
	for _, k := range b.Keys {
		if !answered[k] {
			r.sum.NotRun++
		}
	}
	b.Joined = true
	return r.saveState(ctx)
}

// findByInputFile looks for a batch created from an input file (a run killed
// between creating a batch and recording its id).
func (r *runner) findByInputFile(ctx context.Context, fileID string) (string, error) {
	pager := r.client.Batches().ListAutoPaging(ctx, openai.BatchListParams{Limit: param.NewOpt(int64(100))})
	for n := 0; pager.Next() && n < 10000; n++ {
		b := pager.Current()
		if b.InputFileID == fileID || b.Metadata[metadataInputFile] == fileID {
			return b.ID, nil
		}
	}
	if err := pager.Err(); err != nil {
		return "", fmt.Errorf("batch: list batches: %w", err)
	}
	return "", nil
}

// terminal batch states.
var terminal = map[openai.BatchStatus]bool{
	openai.BatchStatusCompleted: true, openai.BatchStatusFailed: true,
	openai.BatchStatusExpired: true, openai.BatchStatusCancelled: true,
}

// maxPollErrors is how many polls in a row may fail before Run gives up.
const maxPollErrors = 10

func (r *runner) poll(ctx context.Context, b *BatchState) (*openai.Batch, error) {
	wait := r.opts.PollInterval
	errs := 0
	for {
		batch, err := r.client.Batches().Get(ctx, b.ID)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			errs++
			if errs >= maxPollErrors {
				return nil, fmt.Errorf("batch: poll %s: %w", b.ID, err)
			}
		default:
			errs = 0
			if string(batch.Status) != b.Status {
				b.Status = string(batch.Status)
				if err := r.saveState(ctx); err != nil {
					return nil, err
				}
				r.opts.Logger.Info("batch status", "batch", b.ID, "status", b.Status,
					"completed", batch.RequestCounts.Completed, "failed", batch.RequestCounts.Failed, "total", batch.RequestCounts.Total)
			}
			if terminal[batch.Status] {
				return batch, nil
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(wait*3/2, r.opts.MaxPollInterval)
	}
}

// resultLine is one line of a batch output or error file.
type resultLine struct {
	CustomID string `json:"custom_id"`
	Response *struct {
		StatusCode int             `json:"status_code"`
		Body       json.RawMessage `json:"body"`
	} `json:"response"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Error codes of requests that did not run: they are sent again later.
var notRunCodes = map[string]bool{"batch_expired": true, "batch_cancelled": true}

// join downloads a result file and stores its answers and failures.
func (r *runner) join(ctx context.Context, fileID string, answered map[string]bool) error {
	resp, err := r.client.Files().Content(ctx, fileID)
	if err != nil {
		return fmt.Errorf("download %s: %w", fileID, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	n := 0
	for sc.Scan() {
		n++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var l resultLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("%s line %d: %w", fileID, n, err)
		}
		if l.CustomID == "" {
			return fmt.Errorf("%s line %d: no custom_id", fileID, n)
		}
		entry, ok, err := entryOf(&l)
		if err != nil {
			return fmt.Errorf("%s line %d: %w", fileID, n, err)
		}
		if !ok {
			continue // did not run
		}
		if err := r.store.Put(entry); err != nil {
			return err
		}
		if r.opts.Stored != nil {
			r.opts.Stored(entry)
		}
		answered[l.CustomID] = true
		if entry.Kind == cache.KindAnswer {
			r.sum.Answers++
			r.sum.Usage = r.sum.Usage.Add(entry.Usage)
		} else {
			r.sum.Failures++
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", fileID, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return nil
}

// entryOf converts a result line into a cache entry; ok is false for a
// request that did not run.
func entryOf(l *resultLine) (e cache.Entry, ok bool, err error) {
	e = cache.Entry{Key: l.CustomID, Batch: true, Attempts: 1}
	if l.Error != nil && (l.Response == nil || l.Response.StatusCode == 0) {
		if notRunCodes[l.Error.Code] {
			return e, false, nil
		}
		e.Kind = cache.KindFailure
		e.Reason = fmt.Sprintf("batch request failed: %s: %s", l.Error.Code, l.Error.Message)
		return e, true, nil
	}
	if l.Response == nil {
		return e, false, errors.New("neither response nor error")
	}
	if l.Response.StatusCode != http.StatusOK {
		var body struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(l.Response.Body, &body)
		e.Kind = cache.KindFailure
		e.Status = l.Response.StatusCode
		e.Content = string(l.Response.Body)
		e.Reason = fmt.Sprintf("batch request failed: HTTP %d: %s", l.Response.StatusCode, body.Error.Message)
		return e, true, nil
	}
	var c openai.ChatCompletion
	if err := json.Unmarshal(l.Response.Body, &c); err != nil {
		return e, false, fmt.Errorf("decode completion: %w", err)
	}
	resp, err := llm.ResponseOf(&c)
	if err != nil {
		e.Kind = cache.KindFailure
		e.Status = http.StatusOK
		e.Content = string(l.Response.Body)
		e.Reason = "batch request failed: " + err.Error()
		return e, true, nil
	}
	e.Kind = cache.KindAnswer
	e.Content, e.Refusal, e.Model = resp.Content, resp.Refusal, resp.Model
	e.FinishReason, e.ServiceTier, e.Usage = resp.FinishReason, resp.ServiceTier, resp.Usage
	return e, true, nil
}

// State is the state file: every input file uploaded and batch created.
type State struct {
	Version int          `json:"version"`
	Batches []BatchState `json:"batches"`
}

// BatchState is one batch of a state file.
type BatchState struct {
	// InputFileID is recorded once uploaded, ID once created.
	InputFileID string `json:"input_file_id"`
	ID          string `json:"id,omitempty"`
	// Status is the last status seen.
	Status string `json:"status,omitempty"`
	// Requests counts the requests; Keys are their custom ids.
	Requests int      `json:"requests"`
	Keys     []string `json:"keys"`
	// Joined is true once the results are in the cache.
	Joined bool `json:"joined"`
}

const stateVersion = 1

// LoadState reads a state file, local or on an object store (gs://, s3://);
// a missing file is an empty state.
func LoadState(ctx context.Context, path string) (*State, error) {
	data, ok, err := storage.ReadFileIfExists(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("batch: read state: %w", err)
	}
	if !ok {
		return &State{Version: stateVersion}, nil
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("batch: state file %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("batch: state file %s has version %d, want %d", path, st.Version, stateVersion)
	}
	return &st, nil
}

// Pending reports whether the state has batches not joined yet.
func (s *State) Pending() bool {
	for _, b := range s.Batches {
		if !b.Joined {
			return true
		}
	}
	return false
}

// Save writes the state file atomically: a local file under a temporary
// name, fsynced and renamed; an object (gs://, s3://) in one upload, which
// the store makes visible whole or not at all.
func (s *State) Save(ctx context.Context, path string) error {
	data, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return fmt.Errorf("batch: encode state: %w", err)
	}
	data = append(data, '\n')
	if !storage.IsLocal(path) {
		if err := storage.WriteFile(ctx, path, data); err != nil {
			return fmt.Errorf("batch: write state: %w", err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("batch: state directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("batch: write state: %w", err)
	}
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("batch: write state: %w", werr)
	}
	return nil
}
