package annotate

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/winnowlabs/winnow/internal/version"
	"github.com/winnowlabs/winnow/transforms/dataset"
	"github.com/winnowlabs/winnow/transforms/llm"
	"github.com/winnowlabs/winnow/transforms/llm/annotate"
	"github.com/winnowlabs/winnow/transforms/llm/batch"
	"github.com/winnowlabs/winnow/transforms/llm/cache"
	"github.com/winnowlabs/winnow/transforms/progress"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardio"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// worker is what one process of a run shares between the shards it
// annotates: the client (its concurrency bound and rate limits), the cache,
// the annotator and the budget.
type worker struct {
	cfg    *workerConfig
	client *llm.Client
	store  *cache.Store
	ann    *annotate.Annotator
	budget *annotate.Budget // nil: no limit
	text   *rows.Expr
	logger *slog.Logger
	bad    atomic.Int64 // bad input rows skipped, for --max-bad-rows
	// slots bounds the shards annotated at once.
	slots chan struct{}
}

var (
	workersMu sync.Mutex
	workers   = map[string]*worker{}
)

// workerFor returns the process's worker for a run, making it on first use.
func workerFor(enc []byte) (*worker, error) {
	var cfg workerConfig
	if err := json.Unmarshal(enc, &cfg); err != nil {
		return nil, fmt.Errorf("decode annotation config: %w", err)
	}
	workersMu.Lock()
	defer workersMu.Unlock()
	if w, ok := workers[cfg.RunID]; ok {
		return w, nil
	}
	w, err := newWorker(&cfg)
	if err != nil {
		return nil, err
	}
	workers[cfg.RunID] = w
	progress.Global.SetExtra(w.progressLine)
	return w, nil
}

// releaseRun closes the worker a run made in this process, if any (local
// runs), and returns its annotator's statistics; on remote workers a worker
// lives as long as the worker process.
func releaseRun(runID string) (annotate.Stats, bool, error) {
	workersMu.Lock()
	w, ok := workers[runID]
	delete(workers, runID)
	workersMu.Unlock()
	if !ok {
		return annotate.Stats{}, false, nil
	}
	return w.ann.Stats(), true, w.store.Close()
}

func newWorker(cfg *workerConfig) (*worker, error) {
	text, err := rows.Compile(cfg.TextExpression)
	if err != nil {
		return nil, fmt.Errorf("text expression: %w", err)
	}
	store, err := cache.Open(cfg.CacheDir, cache.Options{})
	if err != nil {
		return nil, err
	}
	var budget *annotate.Budget
	if cfg.MaxBudget > 0 {
		budget = annotate.NewBudget(cfg.MaxBudget)
	}
	client, ann, err := cfg.annotator(store, budget)
	if err != nil {
		store.Close()
		return nil, err
	}
	return &worker{
		cfg: cfg, client: client, store: store, ann: ann, budget: budget, text: text, logger: cfg.logger(),
		slots: make(chan struct{}, cfg.ShardsInFlight),
	}, nil
}

// logger receives the warnings of the annotator and the batch status
// lines: on standard error unless the run is quiet.
func (c *workerConfig) logger() *slog.Logger {
	if c.Quiet {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

// annotator makes the client and the annotator of cfg; the API key comes
// from this process's environment.
func (c *workerConfig) annotator(store *cache.Store, budget *annotate.Budget) (*llm.Client, *annotate.Annotator, error) {
	client, err := llm.New(llm.Config{
		BaseURL:           c.BaseURL,
		APIKey:            llm.APIKeyFromEnv(c.APIKeyEnv),
		MaxConcurrency:    c.MaxConcurrency,
		RequestsPerMinute: c.RequestsPerMinute,
		TokensPerMinute:   c.TokensPerMinute,
		RequestTimeout:    c.RequestTimeout,
		MaxAttempts:       c.MaxAttempts,
		BackoffBase:       c.BackoffBase,
		BackoffMax:        c.BackoffMax,
	})
	if err != nil {
		return nil, nil, err
	}
	ann, err := annotate.New(client, annotate.Options{
		Prompt: c.Prompt, Processor: c.Processor, SystemPrompt: c.SystemPrompt, Model: c.Model,
		Temperature: c.Temperature, MaxTokens: c.MaxNewTokens, ReasoningEffort: c.ReasoningEffort,
		ServiceTier: c.ServiceTier, MaxTextLength: c.MaxTextLength, Cache: store, Prices: c.Prices,
		Budget: budget, RetryErrors: c.RetryErrors, Logger: c.logger(),
	})
	if err != nil {
		return nil, nil, err
	}
	return client, ann, nil
}

// progressLine is the worker's part of the progress line.
func (w *worker) progressLine() string {
	st := w.ann.Stats()
	return fmt.Sprintf("%s annotated, %s failed, %s cached, %s requests (%s retries), $%.4f spent",
		progress.Count(st.Annotated), progress.Count(st.Failed), progress.Count(st.CacheHits),
		progress.Count(st.Requests), progress.Count(st.Retries), st.CostUSD)
}

func (w *worker) budgetReached() bool { return w.budget != nil && w.budget.Reached() }

// shardOutcome is what annotating one shard came to.
type shardOutcome struct {
	Result shardmap.Result
	// Spent is what this run sent for the shard.
	Spent annotate.Stats
	// Committed is false for a shard left for a later run (rows not
	// attempted).
	Committed bool
}

// completed returns the marker of a shard already done with the same work;
// with RetryErrors a shard with failed rows is not done.
func (w *worker) completed(ctx context.Context, task shardmap.Task) (shardmap.Result, bool, error) {
	done, ok, err := shardmap.Completed(ctx, task, w.cfg.Fingerprint)
	if err != nil || !ok {
		return done, false, err
	}
	if w.cfg.RetryErrors {
		var l Ledger
		if err := json.Unmarshal(done.Extra, &l); err != nil || l.Failed > 0 {
			return done, false, nil
		}
	}
	return done, true, nil
}

// annotateShard annotates one shard: resumes it when it is done, else
// streams its rows through the annotator and writes them back in input
// order, committing the output only when every row ended annotated or
// failed.
func (w *worker) annotateShard(ctx context.Context, task shardmap.Task) (shardOutcome, error) {
	out := shardOutcome{Result: shardmap.Result{Task: task, Fingerprint: w.cfg.Fingerprint, CodeVersion: version.String()}}
	done, ok, err := w.completed(ctx, task)
	if err != nil {
		return out, err
	}
	if ok {
		done.Resumed = true
		progress.Global.BytesIn.Add(task.InputSize)
		progress.Global.Shards.Add(1)
		return shardOutcome{Result: done, Committed: true}, nil
	}
	if w.budgetReached() {
		// Nothing more can be sent: leave the shard to a later run.
		progress.Global.BytesIn.Add(task.InputSize)
		return out, nil
	}
	s, err := w.newShard(ctx, task)
	if err != nil {
		return out, err
	}
	defer s.close()
	rd, err := shardio.Open(s.ctx, task.Input)
	if err != nil {
		return out, err
	}
	defer s.closeReader(rd)
	if w.cfg.Batch {
		state, err := w.batchState(task)
		if err != nil {
			return out, err
		}
		out.Spent, err = w.ann.AnnotateBatch(s.ctx, s.rows(rd), batch.Options{
			StatePath: state, PollInterval: w.cfg.BatchPollInterval, Logger: w.logger,
		}, s.emit)
		return s.finish(out, err)
	}
	out.Spent, err = w.ann.Annotate(s.ctx, s.rows(rd), s.emit)
	if err != nil {
		// The annotator stopped (a fatal answer, a cache failure, ...) and
		// may have returned before its reader did: stopping the shard wakes
		// a reader waiting for room in the window.
		s.fail(fmt.Errorf("%s: %w", task.Input, err))
	}
	return s.finish(out, err)
}

// batchState returns the Batch API state file of a task: its marker's path
// under _batch/ instead of _done/.
func (w *worker) batchState(task shardmap.Task) (string, error) {
	rel, err := storage.Rel(storage.Join(w.cfg.OutputDir, dataset.DoneDir), task.Marker)
	if err != nil {
		return "", fmt.Errorf("batch state of %s: %w", task.Input, err)
	}
	return storage.Join(w.cfg.OutputDir, BatchDir, rel), nil
}
