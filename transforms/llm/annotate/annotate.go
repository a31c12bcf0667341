// Package annotate is the record-level core of LLM annotation: it turns rows
// (a key and a text) into annotations with a prompt, a processor, an
// llm.Client, the persistent response cache and a price table. The shard
// pipeline hands each shard's rows to Annotate (or AnnotateBatch) and writes
// what comes back: annotated rows to the output shard, failed rows to the
// errors sidecar, and leaves a shard with rows not attempted uncommitted.
//
// Guarantees:
//   - Never pay twice: an answer is written to the cache (durably) before its
//     row is reported; a row whose request is in the cache is answered from
//     it; rows with the same request in one call share one request.
//   - Never drop a row: every row ends Annotated, Failed (the request failed
//     after every attempt, or the answer did not parse: reason and raw answer
//     are kept) or NotAttempted (budget reached, or a batch that expired).
//     Failures are recorded in the cache: a plain re-run reports them again
//     without sending; Options.RetryErrors sends exactly those again.
//   - Results depend only on the rows, the options and the cache content,
//     not on timing; they are emitted in completion order.
package annotate

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/singleflight"

	"github.com/winnowlabs/winnow/transforms/llm"
	"github.com/winnowlabs/winnow/transforms/llm/cache"
	"github.com/winnowlabs/winnow/transforms/llm/cost"
	"github.com/winnowlabs/winnow/transforms/prompts"
)

// Row is one document to annotate.
type Row struct {
	// Key identifies the row in results (e.g. its id, or shard:line).
	Key  string
	Text string
}

// Status is how a row ended.
type Status int

// Row outcomes.
const (
	// Annotated rows have a Value.
	Annotated Status = iota + 1
	// Failed rows have a Reason (and the raw answer when one came back).
	Failed
	// NotAttempted rows were not sent (budget reached, batch expired); a
	// later run sends them.
	NotAttempted
)

// String names the status, as written in error records.
func (s Status) String() string {
	switch s {
	case Annotated:
		return "annotated"
	case Failed:
		return "failed"
	case NotAttempted:
		return "not-attempted"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Reasons of NotAttempted rows.
const (
	ReasonBudget     = "not attempted: budget reached"
	ReasonBatchNoRun = "not attempted: the batch expired or was cancelled before this request ran"
)

// Result is the outcome of one row.
type Result struct {
	// Key is the row's key.
	Key    string
	Status Status
	// Value is what the processor read (Annotated rows): "score", "labels"
	// or the schema's fields.
	Value prompts.Value
	// Raw is the raw answer ("" when none came back).
	Raw string
	// Model is the model that answered, as the server reported it.
	Model string
	Usage llm.Usage
	// CostUSD is the price of the answer (0 for a model without a price).
	CostUSD float64
	// CacheHit is true when the answer or failure came from the cache.
	CacheHit bool
	// Reason says why a row Failed or was NotAttempted.
	Reason string
	// RequestKey is the request's cache key.
	RequestKey string
}

// Annotation returns the object stored in the row's annotation field: the
// processor's fields plus raw_answer, model, usage and cost_usd.
func (r *Result) Annotation() map[string]any {
	out := make(map[string]any, len(r.Value)+4)
	for k, v := range r.Value {
		out[k] = v
	}
	out["raw_answer"] = r.Raw
	out["model"] = r.Model
	out["usage"] = r.Usage
	out["cost_usd"] = r.CostUSD
	return out
}

// ErrorRecord returns the object written to the errors sidecar for a row that
// Failed: reason, raw answer, model and request key.
func (r *Result) ErrorRecord() map[string]any {
	return map[string]any{
		"key": r.Key, "status": r.Status.String(), "reason": r.Reason, "raw_answer": r.Raw,
		"model": r.Model, "request_key": r.RequestKey,
	}
}

// Options configure an Annotator.
type Options struct {
	// Prompt is required.
	Prompt *prompts.Prompt
	// Processor is a processor spec (prompts.NewProcessor); "" uses the
	// prompt's default.
	Processor string
	// SystemPrompt replaces the prompt's system prompt when not empty.
	SystemPrompt string
	Model        string
	// Temperature is nil for the server's default.
	Temperature *float64
	// MaxTokens limits answers (0: server default); MaxTokensField picks the
	// request field (llm.DefaultMaxTokensField when empty).
	MaxTokens       int
	MaxTokensField  string
	ReasoningEffort string
	ServiceTier     string
	// MaxTextLength truncates documents to this many characters, telling the
	// model how much was cut (prompts.Truncate); 0 keeps them whole.
	MaxTextLength int
	// Cache is the response cache (nil: no cache, nothing is resumable).
	Cache *cache.Store
	// Prices prices answers (cost.Default() when nil).
	Prices *cost.Table
	// Budget stops sending once spent (nil: no limit). Share one Budget
	// between the annotators of a run.
	Budget *Budget
	// RetryErrors sends again the rows whose request failed or whose
	// answer did not parse in an earlier run.
	RetryErrors bool
	// Concurrency is the number of rows in progress at once per Annotate
	// call (the client's MaxConcurrency when 0).
	Concurrency int
	// MaxConsecutiveFailures stops the run when that many requests in a row
	// fail after every attempt (default 50; negative: never), so that an
	// outage does not turn every row into a recorded failure.
	MaxConsecutiveFailures int
	// EstimatedCompletionTokens is the answer length assumed by estimates
	// (default: MaxTokens, else 300).
	EstimatedCompletionTokens int
	// Logger receives warnings (slog.Default() when nil).
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultMaxConsecutiveFailures    = 50
	DefaultEstimatedCompletionTokens = 300
)

// Annotator annotates rows. It is safe for concurrent use: a worker shares one
// Annotator (and one llm.Client) between the shards it processes.
type Annotator struct {
	client  *llm.Client
	opts    Options
	proc    prompts.Processor
	system  string
	prices  *cost.Table
	logger  *slog.Logger
	group   singleflight.Group
	total   counters
	failRun atomic.Int64 // consecutive failed requests
	resent  sync.Map     // keys sent again under RetryErrors

	warnMu sync.Mutex
	warned map[string]bool
}

// New returns an Annotator that sends through client.
func New(client *llm.Client, opts Options) (*Annotator, error) {
	if client == nil {
		return nil, errors.New("annotate: no client")
	}
	if opts.Prompt == nil {
		return nil, errors.New("annotate: no prompt")
	}
	if opts.Model == "" {
		return nil, errors.New("annotate: no model")
	}
	proc, err := prompts.NewProcessor(opts.Processor, opts.Prompt)
	if err != nil {
		return nil, fmt.Errorf("annotate: %w", err)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = client.MaxConcurrency()
	}
	if opts.MaxConsecutiveFailures == 0 {
		opts.MaxConsecutiveFailures = DefaultMaxConsecutiveFailures
	}
	if opts.EstimatedCompletionTokens <= 0 {
		opts.EstimatedCompletionTokens = DefaultEstimatedCompletionTokens
		if opts.MaxTokens > 0 {
			opts.EstimatedCompletionTokens = opts.MaxTokens
		}
	}
	a := &Annotator{
		client: client,
		opts:   opts,
		proc:   proc,
		system: opts.Prompt.System,
		prices: opts.Prices,
		logger: opts.Logger,
		warned: map[string]bool{},
	}
	if opts.SystemPrompt != "" {
		a.system = opts.SystemPrompt
	}
	if a.prices == nil {
		a.prices = cost.Default()
	}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	probe := a.Request("")
	if err := probe.Validate(); err != nil {
		return nil, fmt.Errorf("annotate: %w", err)
	}
	return a, nil
}

// Processor returns the processor in use.
func (a *Annotator) Processor() prompts.Processor { return a.proc }

// Request returns the request sent for a document: the truncated text in the
// prompt (its JSON variant and schema when the processor reads JSON), the
// system prompt, and the options.
func (a *Annotator) Request(text string) *llm.Request {
	jsonAnswer := a.proc.JSON()
	text = prompts.Truncate(text, a.opts.MaxTextLength)
	req := &llm.Request{
		BaseURL:         a.client.BaseURL(),
		Model:           a.opts.Model,
		Temperature:     a.opts.Temperature,
		MaxTokens:       a.opts.MaxTokens,
		MaxTokensField:  a.opts.MaxTokensField,
		ReasoningEffort: a.opts.ReasoningEffort,
		ServiceTier:     a.opts.ServiceTier,
	}
	if a.system != "" {
		req.Messages = append(req.Messages, llm.Message{Role: llm.RoleSystem, Content: a.system})
	}
	req.Messages = append(req.Messages, llm.Message{Role: llm.RoleUser, Content: a.opts.Prompt.Render(text, jsonAnswer)})
	if jsonAnswer && a.opts.Prompt.Schema != nil {
		req.SchemaName = a.opts.Prompt.Name
		req.Schema = a.opts.Prompt.Schema
		req.StrictSchema = a.opts.Prompt.Strict
	}
	return req
}

// Annotate annotates rows with at most Options.Concurrency in progress and
// calls emit once per row, from the calling goroutine, as rows finish. It
// returns the call's statistics. A non-nil error (a fatal server answer, a
// cache write failure, too many failures in a row, ctx done) means some rows
// were not emitted: the caller must not commit the shard. Annotate then
// returns without waiting for rows to end (it may be blocked, e.g. on a
// window of rows not yet emitted); the caller stops it.
func (a *Annotator) Annotate(ctx context.Context, rows iter.Seq[Row], emit func(Result)) (Stats, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var call counters
	jobs := make(chan Row)
	results := make(chan Result, a.opts.Concurrency)
	var wg sync.WaitGroup
	for range a.opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var row Row
				select {
				case r, ok := <-jobs:
					if !ok {
						return
					}
					row = r
				case <-ctx.Done():
					return
				}
				res, err := a.annotateRow(ctx, row, &call)
				if err != nil {
					cancel(err)
					continue
				}
				results <- res
			}
		}()
	}
	go func() {
		defer close(jobs)
		for row := range rows {
			select {
			case jobs <- row:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	for res := range results {
		call.count(&res)
		a.total.count(&res)
		emit(res)
	}
	return call.snapshot(), context.Cause(ctx)
}

// annotateRow answers one row from the cache or by sending its request. An
// error stops the run.
func (a *Annotator) annotateRow(ctx context.Context, row Row, call *counters) (Result, error) {
	req := a.Request(row.Text)
	key := req.Key()
	res := Result{Key: row.Key, RequestKey: key}
	if a.opts.Cache != nil {
		if e, ok := a.opts.Cache.Answer(key); ok {
			r := a.fromAnswer(res, e, true)
			if r.Status == Annotated || !a.opts.RetryErrors {
				return r, nil
			}
		} else if f, ok := a.opts.Cache.Failure(key); ok && !a.opts.RetryErrors {
			return fromFailure(res, f, true), nil
		}
	}
	v, err, _ := a.group.Do(key, func() (any, error) {
		// A row with the same request may have been answered between the
		// lookup above and now (with RetryErrors: re-sent by this
		// Annotator).
		if a.opts.Cache != nil {
			_, resent := a.resent.Load(key)
			if !a.opts.RetryErrors || resent {
				if e, ok := a.opts.Cache.Answer(key); ok {
					return outcome{e, true}, nil
				}
				if e, ok := a.opts.Cache.Failure(key); ok {
					return outcome{e, true}, nil
				}
			}
		}
		e, err := a.send(ctx, req, key, call)
		if err == nil && a.opts.RetryErrors {
			a.resent.Store(key, true)
		}
		return outcome{e, false}, err
	})
	if errors.Is(err, errBudget) {
		res.Status, res.Reason = NotAttempted, ReasonBudget
		return res, nil
	}
	if err != nil {
		return res, err
	}
	o := v.(outcome)
	if o.entry.Kind == cache.KindFailure {
		return fromFailure(res, o.entry, o.hit), nil
	}
	return a.fromAnswer(res, o.entry, o.hit), nil
}

// outcome is a request's answer or failure, and whether it came from the
// cache.
type outcome struct {
	entry cache.Entry
	hit   bool
}

var errBudget = errors.New("budget reached")

// send sends a request and records its answer or failure in the cache
// before returning it.
func (a *Annotator) send(ctx context.Context, req *llm.Request, key string, call *counters) (cache.Entry, error) {
	var estimate float64
	if a.opts.Budget != nil {
		estimate, _ = a.prices.Estimate(req, a.opts.EstimatedCompletionTokens, false)
		if !a.opts.Budget.reserve(estimate) {
			return cache.Entry{}, errBudget
		}
	}
	resp, err := a.client.Complete(ctx, req)
	if err != nil {
		if a.opts.Budget != nil {
			a.opts.Budget.settle(estimate, 0)
		}
		var re *llm.RequestError
		if !errors.As(err, &re) {
			return cache.Entry{}, err
		}
		call.sent(re.Attempts)
		a.total.sent(re.Attempts)
		e := cache.Entry{Key: key, Kind: cache.KindFailure, Reason: re.Error(), Content: re.Body, Status: re.Status, Attempts: re.Attempts}
		if err := a.put(e); err != nil {
			return e, err
		}
		if n := a.failRun.Add(1); a.opts.MaxConsecutiveFailures > 0 && n >= int64(a.opts.MaxConsecutiveFailures) {
			return e, fmt.Errorf("annotate: stopping after %d requests in a row failed; last: %v", n, re)
		}
		return e, nil
	}
	a.failRun.Store(0)
	e := cache.Entry{
		Key: key, Kind: cache.KindAnswer, Content: resp.Content, Refusal: resp.Refusal, Model: resp.Model,
		FinishReason: resp.FinishReason, ServiceTier: resp.ServiceTier, Usage: resp.Usage, Attempts: resp.Attempts,
	}
	usd := a.cost(e)
	if a.opts.Budget != nil {
		a.opts.Budget.settle(estimate, usd)
	}
	call.sent(resp.Attempts)
	a.total.sent(resp.Attempts)
	call.paid(resp.Usage, usd)
	a.total.paid(resp.Usage, usd)
	return e, a.put(e)
}

func (a *Annotator) put(e cache.Entry) error {
	if a.opts.Cache == nil {
		return nil
	}
	if err := a.opts.Cache.Put(e); err != nil {
		return fmt.Errorf("annotate: %w", err)
	}
	return nil
}

// fromAnswer reads an answer into a result.
func (a *Annotator) fromAnswer(res Result, e cache.Entry, hit bool) Result {
	res.Raw, res.Model, res.Usage, res.CacheHit = e.Content, e.Model, e.Usage, hit
	res.CostUSD = a.cost(e)
	if e.Content == "" && e.Refusal != "" {
		res.Status, res.Raw = Failed, e.Refusal
		res.Reason = "the model refused to answer"
		return res
	}
	v, err := a.proc.Process(e.Content)
	if err != nil {
		res.Status, res.Reason = Failed, err.Error()
		if e.FinishReason == "length" {
			res.Reason += " (the answer was cut at the token limit)"
		}
		return res
	}
	res.Status, res.Value = Annotated, v
	return res
}

func fromFailure(res Result, e cache.Entry, hit bool) Result {
	res.Status, res.Reason, res.Raw, res.CacheHit = Failed, e.Reason, e.Content, hit
	return res
}

// cost prices an answer: the model as reported, else as requested; the tier
// as reported, else as requested.
func (a *Annotator) cost(e cache.Entry) float64 {
	tier := e.ServiceTier
	if tier == "" {
		tier = a.opts.ServiceTier
	}
	if usd, ok := a.prices.Cost(e.Model, tier, e.Batch, e.Usage); ok {
		return usd
	}
	if usd, ok := a.prices.Cost(a.opts.Model, tier, e.Batch, e.Usage); ok {
		return usd
	}
	a.warnMu.Lock()
	defer a.warnMu.Unlock()
	if !a.warned[e.Model] {
		a.warned[e.Model] = true
		a.logger.Warn("no price for the model: its cost is counted as 0 (add it with a price file)", "model", e.Model, "requested", a.opts.Model)
	}
	return 0
}

// Stats returns the Annotator's statistics since it was made, over every call.
func (a *Annotator) Stats() Stats { return a.total.snapshot() }
