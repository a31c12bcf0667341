package annotate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/winnowlabs/winnow/internal/version"
	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/pipelines/runner"
	"github.com/winnowlabs/winnow/transforms/dataset"
	"github.com/winnowlabs/winnow/transforms/llm/annotate"
	"github.com/winnowlabs/winnow/transforms/llm/cache"
	"github.com/winnowlabs/winnow/transforms/llm/cost"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardio"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// Result is what Run reports.
type Result struct {
	mapstep.Result
	// Summary is the manifest's extra: the prompt, model, field and the
	// cost ledger of the committed shards.
	Summary Summary
	// Spent is what this run sent and paid: the annotator's statistics when
	// the pipeline ran in this process, else the pipeline's counters (summed
	// over the workers).
	Spent annotate.Stats
	// Incomplete counts the shards left uncommitted because some of their
	// rows were not attempted (budget reached, batch requests expired): run
	// the same command again to finish them.
	Incomplete int64
}

// Summary is the annotation part of the output manifest (its "extra").
type Summary struct {
	Prompt    string `json:"prompt"`
	Processor string `json:"processor"`
	Model     string `json:"model"`
	Field     string `json:"field"`
	// Ledger totals the ledgers of the committed shards.
	Ledger Ledger `json:"ledger"`
	// IncompleteShards were left for a later run.
	IncompleteShards int64 `json:"incomplete_shards,omitempty"`
}

// manifestOptions is how a run's options are recorded in the manifest: the
// prompt as sent and the model's price rather than the whole price table
// (never the API key, which is not among the options).
type manifestOptions struct {
	Options
	Prompt promptRecord `json:"prompt"`
	Prices *cost.Table  `json:"prices,omitempty"`
	Price  *cost.Price  `json:"price,omitempty"`
}

type promptRecord struct {
	Name         string          `json:"name"`
	System       string          `json:"system,omitempty"`
	Template     string          `json:"template"`
	JSONTemplate string          `json:"json_template,omitempty"`
	Schema       json.RawMessage `json:"schema,omitempty"`
	Strict       bool            `json:"strict,omitempty"`
	Processor    string          `json:"processor,omitempty"`
}

func (c *workerConfig) manifestOptions() ([]byte, error) {
	p := c.Prompt
	rec := manifestOptions{Options: c.Options, Prompt: promptRecord{
		Name: p.Name, System: p.System, Template: p.Template, JSONTemplate: p.JSONTemplate,
		Schema: p.Schema, Strict: p.Strict, Processor: p.Processor,
	}}
	if price, ok := c.Prices.Lookup(c.Model); ok {
		rec.Price = &price
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode options: %w", err)
	}
	return b, nil
}

// Run annotates the inputs into o.Output. Shards committed by an earlier run
// of the same work are skipped; uncommitted ones are annotated again,
// answered from the cache where an earlier run was answered.
func Run(ctx context.Context, o Options) (_ *Result, err error) {
	cfg, layout, files, err := o.prepare(ctx)
	if err != nil {
		return nil, err
	}
	ctx, out, err := o.Begin(ctx, "annotate", layout.Dir)
	if err != nil {
		return nil, err
	}
	defer func() { out.Close(err) }()
	previous := out.Previous
	if previous != nil {
		// The manifest describes a finished run; until this one finishes
		// there is none (a run that commits no shard writes it below).
		if err := storage.Remove(ctx, storage.Join(layout.Dir, shardmap.ManifestName)); err != nil {
			return nil, err
		}
	}
	enc, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode annotation config: %w", err)
	}
	opts, err := cfg.manifestOptions()
	if err != nil {
		return nil, err
	}

	p, s := beam.NewPipelineWithRoot()
	s = s.Scope("annotate")
	tasks, err := shardmap.CreateTasks(s, layout.Tasks(files))
	if err != nil {
		return nil, err
	}
	results := annotateShards(s, enc, tasks)
	base := shardmap.Manifest{Command: "annotate", Options: opts, Inputs: dataset.InputFiles(files)}
	if _, err := shardmap.WriteManifest(s, layout.Dir, base, results); err != nil {
		return nil, err
	}
	counters, err := runner.Run(ctx, p, o.RunOptions("annotate", files, 1))
	local, ranHere, cerr := releaseRun(cfg.RunID)
	if err == nil && cerr != nil {
		err = fmt.Errorf("close the cache: %w", cerr)
	}
	var sum Summary
	res, err := out.Finish(ctx, counters, err, mapstep.FinishOptions{
		Manifest: func(ctx context.Context) (*shardmap.Manifest, error) {
			m, err := shardmap.ReadManifest(ctx, layout.Dir)
			if errors.Is(err, shardmap.ErrNoManifest) {
				// No shard was committed: the manifest step had nothing to gather.
				m, err = &base, nil
				m.CodeVersion = version.String()
			}
			return m, err
		},
		// A shard this run re-opened (--retry-errors) and could not finish
		// keeps its earlier output, which its marker still vouches for; only
		// the markers of shards missing from the manifest are read again.
		Stale: func(previous, m *shardmap.Manifest) (*shardmap.Manifest, *shardmap.Manifest, error) {
			current := *m
			current.Outputs = slices.Clone(m.Outputs)
			committed := map[string]bool{}
			for _, out := range m.Outputs {
				committed[out.Path] = true
			}
			for _, t := range layout.Tasks(files) {
				if committed[t.Output] {
					continue
				}
				if _, done, err := shardmap.Completed(ctx, t, cfg.Fingerprint); err == nil && done {
					current.Outputs = append(current.Outputs, shardmap.OutputFile{Path: t.Output})
				}
			}
			return previous, &current, nil
		},
		After: func(m *shardmap.Manifest) error {
			// Every shard not committed is missing from the manifest.
			sum = Summary{Prompt: o.Prompt.Name, Processor: o.Processor, Model: o.Model, Field: cfg.OutputField,
				IncompleteShards: int64(len(files) - len(m.Outputs))}
			if sum.Processor == "" {
				sum.Processor = o.Prompt.Processor
			}
			for _, out := range m.Outputs {
				var l Ledger
				if err := json.Unmarshal(out.Extra, &l); err != nil {
					return fmt.Errorf("%s: the manifest entry has no ledger: %w", out.Path, err)
				}
				sum.Ledger = sum.Ledger.Add(l)
			}
			var err error
			m.Extra, err = json.Marshal(sum)
			if err != nil {
				return fmt.Errorf("encode manifest extra: %w", err)
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	if res.Submitted {
		return &Result{Result: *res}, nil
	}
	spent := local
	if !ranHere {
		spent = spentOf(counters)
	}
	return &Result{Result: *res, Summary: sum, Spent: spent, Incomplete: sum.IncompleteShards}, nil
}

// spentOf reads this run's spending from the counters of a run whose workers
// were other processes.
func spentOf(c runner.Counters) annotate.Stats {
	return annotate.Stats{
		Annotated: c["annotated"], Failed: c["failed"], NotAttempted: c["not_attempted"],
		CacheHits: c["cache_hits"], Requests: c["requests"], Retries: c["retries"],
		PromptTokens: c["prompt_tokens"], CachedPromptTokens: c["cached_prompt_tokens"],
		CompletionTokens: c["completion_tokens"], CostUSD: float64(c["cost_micro_usd"]) / 1e6,
	}
}

// prepare checks the options and finds the inputs.
func (o *Options) prepare(ctx context.Context) (*workerConfig, dataset.Layout, []dataset.File, error) {
	cfg, err := o.config()
	if err != nil {
		return nil, dataset.Layout{}, nil, err
	}
	layout, err := o.Layout()
	if err != nil {
		return nil, layout, nil, err
	}
	cfg.OutputDir = layout.Dir
	// Building the annotator checks the prompt, processor and options.
	if _, _, err := cfg.annotator(nil, nil); err != nil {
		return nil, layout, nil, err
	}
	files, err := dataset.Discover(ctx, o.Inputs, dataset.Options{})
	if err != nil {
		return nil, layout, nil, err
	}
	for _, dir := range []string{layout.Dir, cfg.CacheDir} {
		if err := storage.CheckApart(ctx, dir, o.Inputs); err != nil {
			return nil, layout, nil, err
		}
	}
	return cfg, layout, files, nil
}

// Estimate is a dry run's report.
type Estimate struct {
	annotate.Estimate
	// Shards counts the input shards; Committed those an earlier run
	// finished (skipped, not counted in rows).
	Shards    int    `json:"shards"`
	Committed int    `json:"committed_shards"`
	BadRows   int64  `json:"bad_rows"`
	Model     string `json:"model"`
	Batch     bool   `json:"batch"`
	// CompletionTokensPerRequest is the answer length assumed.
	CompletionTokensPerRequest int `json:"completion_tokens_per_request"`
}

// DryRun counts, without sending anything, what Run would send: rows,
// rows the cache answers, requests, estimated tokens and cost. It reads every
// shard not yet committed on this machine (a dry run is for the annotation
// pools one sends to an LLM, not for whole corpora), opens the cache
// read-only and never contacts the server.
func DryRun(ctx context.Context, o Options) (*Estimate, error) {
	cfg, layout, files, err := o.prepare(ctx)
	if err != nil {
		return nil, err
	}
	store, err := cache.Open(cfg.CacheDir, cache.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	_, ann, err := cfg.annotator(store, nil)
	if err != nil {
		return nil, err
	}
	w := &worker{cfg: cfg}
	if w.text, err = rows.Compile(cfg.TextExpression); err != nil {
		return nil, err
	}
	est := &Estimate{Shards: len(files), Model: cfg.Model, Batch: cfg.Batch}
	var readErr error
	texts := func(yield func(annotate.Row) bool) {
		for _, f := range files {
			task := layout.Task(f)
			if _, ok, err := w.completed(ctx, task); err != nil {
				readErr = err
				return
			} else if ok {
				est.Committed++
				continue
			}
			if !w.eachText(ctx, task, &est.BadRows, &readErr, yield) {
				return
			}
		}
	}
	est.Estimate = ann.Estimate(texts, cfg.Batch)
	if readErr != nil {
		return nil, readErr
	}
	est.CompletionTokensPerRequest = annotate.DefaultEstimatedCompletionTokens
	if cfg.MaxNewTokens > 0 {
		est.CompletionTokensPerRequest = cfg.MaxNewTokens
	}
	return est, nil
}

// eachText yields the texts of a shard's rows; it counts bad rows, or stops
// at the first when they fail the run, recording the error in errp.
func (w *worker) eachText(ctx context.Context, task shardmap.Task, bad *int64, errp *error, yield func(annotate.Row) bool) bool {
	rd, err := shardio.Open(ctx, task.Input)
	if err != nil {
		*errp = err
		return false
	}
	defer rd.Close()
	for {
		line, err := rd.Next()
		if err == io.EOF {
			return true
		}
		if err != nil {
			*errp = err
			return false
		}
		p := &pendingRow{raw: line, line: rd.Line()}
		text, err := w.textOf(p, task.Input)
		if err != nil {
			if !w.cfg.Policy.SkipBad {
				*errp = fmt.Errorf("%s:%d: %w", task.Input, p.line, err)
				return false
			}
			*bad++
			continue
		}
		if !yield(annotate.Row{Text: text}) {
			return false
		}
	}
}
