// Package filter is the filter stage: it scores every shard of a corpus
// with a classifier (Score) and keeps the rows a selection rule accepts
// (Filter): a threshold on the score or the integer score, a jq
// expression, Pareto sampling, or a global top fraction.
//
// Each input shard gives one output shard, committed atomically with a
// completion marker whose fingerprint covers the model file's SHA-256, its
// normalizer and the selection, so a re-run skips finished shards and a
// killed run resumes to byte-identical output. Outputs go to a directory
// per model version (OUTPUT/<model>-<sha256[:12]>), so re-filtering with a
// new model leaves the old output intact, and Incremental runs only plan
// the input shards that this version has not done yet.
//
// A global top fraction (KeepFraction) needs every score before any row can
// be kept, yet the classifier runs once: the first stage scores every
// shard into OUTPUT/<version>/_scored/, a second reads the written scores
// into a DDSketch per shard that a Beam combiner merges into the cut, and
// the last selects from the scored shards with the cut as its global
// input. Changing the fraction later re-runs only the last two stages.
package filter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/pipelines/filter/scoring"
	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/pipelines/runner"
	"github.com/winnowlabs/winnow/transforms/dataset"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// ModelOptions choose the classifier.
type ModelOptions struct {
	// Path is a model directory (with manifest.json) or a model file
	// (.bin/.ftz), local or on an object store the workers can read.
	Path string `json:"path"`
	// Name overrides the model's name (default: the base name of Path).
	Name string `json:"name,omitempty"`
	// Normalizer and Tokenizer apply to models without a manifest (default
	// normalizer: newlines to spaces).
	Normalizer string `json:"normalizer,omitempty"`
	Tokenizer  string `json:"tokenizer,omitempty"`
	// PositiveLabel is the label whose probability is the score.
	PositiveLabel string `json:"positive_label,omitempty"`
	// Backend is the GoMLX backend of encoders (default "go"); BatchSize
	// the most texts per forward pass, MaxLength the tokens texts are
	// truncated to (default: the model's maximum).
	Backend   string `json:"backend,omitempty"`
	BatchSize int    `json:"batch_size,omitempty"`
	MaxLength int    `json:"max_length,omitempty"`
}

// ScoreOptions configure Score.
type ScoreOptions struct {
	mapstep.Common
	Model ModelOptions `json:"model"`
	// TextExpression selects the text (default .text).
	TextExpression string `json:"text_expression,omitempty"`
	// Field is where scores are written (default metadata.<model name>).
	Field string `json:"field,omitempty"`
	// AllLabels also writes every label's probability.
	AllLabels bool `json:"all_labels,omitempty"`
	// Attributes writes dolma-style attribute records mirroring the input
	// shards instead of the scored documents.
	Attributes bool `json:"attributes,omitempty"`
	// IDExpression selects attribute records' id (default .id).
	IDExpression string `json:"id_expression,omitempty"`
	// NoVersionDir writes straight into Output instead of
	// Output/<model>-<hash12>.
	NoVersionDir bool `json:"no_version_dir,omitempty"`
	// Incremental plans only the input shards without a completed output
	// for this model version and selection, and adds them to the existing
	// manifest instead of replacing it.
	Incremental bool `json:"incremental,omitempty"`
}

// FilterOptions configure Filter: scoring plus one selection rule.
type FilterOptions struct {
	ScoreOptions
	scoring.Selection
	// KeepFraction keeps this global top fraction of the rows, in (0, 1].
	KeepFraction float64 `json:"keep_fraction,omitempty"`
	// RejectedDir, when set, receives the dropped rows, in shards that
	// mirror the outputs (under the same version directory name).
	RejectedDir string `json:"rejected_dir,omitempty"`
}

// Result is what a run did.
type Result struct {
	*mapstep.Result
	// Dir is the output directory (the version directory unless
	// NoVersionDir).
	Dir    string
	Report *Report
}

// Score adds a classifier's scores to every row (or writes attribute
// records) and keeps every row.
func Score(ctx context.Context, o ScoreOptions) (*Result, error) {
	return run(ctx, "score", o, FilterOptions{ScoreOptions: o})
}

// Filter scores every row and keeps those the selection accepts.
func Filter(ctx context.Context, o FilterOptions) (*Result, error) {
	if o.Attributes {
		return nil, fmt.Errorf("attribute records carry scores only, so they select nothing: score with attribute records instead of filtering")
	}
	if o.KeepFraction != 0 {
		if !(o.KeepFraction > 0 && o.KeepFraction <= 1) {
			return nil, fmt.Errorf("keep fraction %v is not in (0, 1]", o.KeepFraction)
		}
		if o.Threshold != nil || o.IntThreshold != nil || o.Expression != "" || o.Pareto != 0 {
			return nil, fmt.Errorf("give exactly one selection rule: a keep fraction excludes thresholds, expressions and Pareto sampling")
		}
		if o.Incremental {
			return nil, ErrFractionNotIncremental
		}
	} else if err := o.Selection.Validate(); err != nil {
		return nil, err
	}
	return run(ctx, "filter", o, o)
}

// ErrFractionNotIncremental refuses an incremental run that keeps a global
// top fraction.
var ErrFractionNotIncremental = errors.New("a keep fraction is global, so its cut moves as the corpus grows and an incremental run cannot keep earlier shards as they are; " +
	"filter new shards with a threshold at the cut an earlier keep-fraction run reported")

// plan is everything a run decides before building its pipeline.
type plan struct {
	command string
	o       FilterOptions
	info    *models.Info
	policy  shardmap.Policy
	layout  dataset.Layout
	files   []dataset.File
	score   scoring.ScoreArgs
	// fingerprint identifies the scoring (and single-pass selection) work.
	fingerprint string
}

// limitHeap is runner.LimitHeapAbove; tests record its limit.
var limitHeap = runner.LimitHeapAbove

func run(ctx context.Context, command string, options any, o FilterOptions) (_ *Result, err error) {
	p, err := newPlan(ctx, command, o)
	if err != nil {
		return nil, err
	}
	// The model newPlan loaded is nearly all of the live heap until the run
	// ends; the run adds batches in flight and compressors, about 32 MiB per
	// shard worker.
	workers := o.Workers()
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	_, restore := limitHeap(512<<20 + int64(workers)*32<<20)
	defer restore()
	var also []string
	if d := p.rejectedDir(); d != "" {
		also = append(also, d)
	}
	ctx, out, err := o.Begin(ctx, command, p.layout.Dir, also...)
	if err != nil {
		return nil, err
	}
	defer func() { out.Close(err) }()
	previous := out.Previous
	todo, kept := p.files, []ShardReport(nil)
	if o.Incremental && previous != nil {
		prev, err := reportOf(previous)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.layout.Dir, err)
		}
		// The same scoring and selection: a keep-fraction filter records
		// the scoring's fingerprint, so its command and fraction must match
		// too (a score run must not take the kept rows for its own).
		if prev.Fingerprint == p.fingerprint && prev.Command == command && prev.KeepFraction == o.KeepFraction {
			todo, kept = pending(p.files, p.layout, previous, prev)
			if len(todo) == 0 {
				// Nothing new: the output is up to date.
				return &Result{Result: &mapstep.Result{Manifest: previous}, Dir: p.layout.Dir, Report: prev}, nil
			}
		}
	}

	pipe, s := beam.NewPipelineWithRoot()
	s = s.Scope(command)
	var results []beam.PCollection
	cut := beam.PCollection{}
	passes := 1
	if o.KeepFraction > 0 {
		results, cut, err = p.fractionStages(s, todo)
		passes = 3
	} else {
		results, err = p.singlePass(s, todo)
	}
	if err != nil {
		return nil, err
	}
	base, err := p.baseManifest(options)
	if err != nil {
		return nil, err
	}
	scoredDir := ""
	if o.KeepFraction > 0 {
		scoredDir = p.scoredLayout().Dir
	}
	if _, err := WriteReport(s, p.layout.Dir, scoredDir, base, p.baseReport(kept), cut, results...); err != nil {
		return nil, err
	}

	counters, err := runner.Run(ctx, pipe, o.RunOptions(command, todo, passes))
	res, err := out.Finish(ctx, counters, err, mapstep.FinishOptions{Stale: func(previous, m *shardmap.Manifest) (*shardmap.Manifest, *shardmap.Manifest, error) {
		if !o.Incremental {
			return previous, m, nil
		}
		// Outputs of inputs no longer given stay (the corpus may have
		// moved them on); outputs of current inputs under another name
		// (inputs given in another order) go.
		current := map[string]bool{}
		for _, f := range p.files {
			current[f.Path] = true
		}
		prev := *previous
		prev.Outputs = nil
		for _, out := range previous.Outputs {
			if current[out.Input] {
				prev.Outputs = append(prev.Outputs, out)
			}
		}
		return &prev, m, nil
	}})
	if err != nil {
		return nil, err
	}
	r := &Result{Result: res, Dir: p.layout.Dir}
	if res.Submitted {
		return r, nil
	}
	if r.Report, err = reportOf(res.Manifest); err != nil {
		return nil, err
	}
	return r, nil
}

func newPlan(ctx context.Context, command string, o FilterOptions) (*plan, error) {
	p := &plan{command: command, o: o}
	var err error
	if p.policy, err = o.Policy(); err != nil {
		return nil, err
	}
	if o.Model.Path == "" {
		return nil, fmt.Errorf("no model given")
	}
	text := o.TextExpression
	if text == "" {
		text = rows.DefaultTextExpression
	}
	p.score = scoring.ScoreArgs{
		Model: scoring.ModelRef{
			Path: o.Model.Path, Name: o.Model.Name, Normalizer: o.Model.Normalizer,
			Tokenizer: o.Model.Tokenizer, PositiveLabel: o.Model.PositiveLabel,
			Backend: o.Model.Backend, BatchSize: o.Model.BatchSize, MaxLength: o.Model.MaxLength,
		},
		TextExpression: text, Field: o.Field, AllLabels: o.AllLabels,
		Attributes: o.Attributes, IDExpression: o.IDExpression,
	}
	if command == "filter" && o.KeepFraction == 0 {
		sel := o.Selection
		p.score.Select = &sel
	}
	// Check what can be checked before loading the model, which takes a
	// while; the default field is named after the model.
	if o.Field != "" {
		if err := scoring.CheckField(o.Field); err != nil {
			return nil, err
		}
	}
	if _, err := rows.Compile(text); err != nil {
		return nil, err
	}
	ref, clf, err := scoring.Resolve(ctx, p.score.Model)
	if err != nil {
		return nil, err
	}
	p.info, p.score.Model = clf.Info(), ref
	if o.Field == "" {
		p.score.Field = "metadata." + p.info.Name
	}
	if err := p.score.Validate(); err != nil {
		return nil, err
	}
	if p.layout, err = o.Layout(); err != nil {
		return nil, err
	}
	if !o.NoVersionDir {
		p.layout.Dir = storage.Join(p.layout.Dir, p.versionName())
	}
	if p.files, err = dataset.Discover(ctx, o.Inputs, dataset.Options{}); err != nil {
		return nil, err
	}
	if d := p.rejectedDir(); d != "" {
		if overlap, err := storage.Overlap(d, p.layout.Dir); err != nil {
			return nil, err
		} else if overlap {
			return nil, fmt.Errorf("the rejected rows' directory %s and the output %s must not contain each other", d, p.layout.Dir)
		}
	}
	work, err := p.scorePlan().Build(nil)
	if err != nil {
		return nil, err
	}
	p.fingerprint = work.Fingerprint
	return p, nil
}

// versionName names the output directory of this model version.
func (p *plan) versionName() string { return p.info.Name + "-" + p.info.Version() }

// rejectedDir is where dropped rows go ("" when they are not kept).
func (p *plan) rejectedDir() string {
	if p.o.RejectedDir == "" {
		return ""
	}
	dir := storage.Clean(p.o.RejectedDir)
	if !p.o.NoVersionDir {
		dir = storage.Join(dir, p.versionName())
	}
	return dir
}

// scoredLayout places the scored shards of a fraction run.
func (p *plan) scoredLayout() dataset.Layout {
	l := p.layout
	l.Dir = storage.Join(l.Dir, ScoredDir)
	return l
}

// ScoredDir holds a keep-fraction run's scored shards inside its output.
const ScoredDir = "_scored"

// cutName is the file, in the scored directory, holding a keep-fraction
// run's cut for the selecting stage.
const cutName = "_cut.json"

func (p *plan) scorePlan() shardmap.Plan {
	return shardmap.Plan{
		Ops:    []rows.Spec{*mapstep.MustSpec(scoring.ScoreKind, p.score)},
		Policy: p.policy, Workers: p.o.Workers(),
	}
}

// tasks returns the shard tasks writing files' outputs with layout l,
// dropped rows going to the rejected directory when one is set.
func (p *plan) tasks(l dataset.Layout, files []dataset.File) []shardmap.Task {
	tasks := l.Tasks(files)
	if dir := p.rejectedDir(); dir != "" && p.command == "filter" {
		rl := p.layout
		rl.Dir = dir
		for i, f := range files {
			tasks[i].Rejected = rl.Output(f)
		}
	}
	return tasks
}

// singlePass scores and selects every shard in one map; it returns the
// shards' results.
func (p *plan) singlePass(s beam.Scope, files []dataset.File) ([]beam.PCollection, error) {
	tasks, err := shardmap.CreateTasks(s, p.tasks(p.layout, files))
	if err != nil {
		return nil, err
	}
	results, err := shardmap.MapShards(s, p.scorePlan(), tasks)
	if err != nil {
		return nil, err
	}
	return []beam.PCollection{results}, nil
}

// fractionStages scores every shard into _scored/, merges the scores'
// sketches into the cut and selects from the scored shards. It returns
// both stages' results and the cut.
func (p *plan) fractionStages(s beam.Scope, files []dataset.File) ([]beam.PCollection, beam.PCollection, error) {
	scored := p.scoredLayout()
	// Bad input rows are reported beside the outputs, as in one pass.
	scoreTasks := scored.Tasks(files)
	for i, f := range files {
		scoreTasks[i].Errors = p.layout.Errors(f)
		scoreTasks[i].Part = shardmap.PartRead
	}
	tasks, err := shardmap.CreateTasks(s.Scope("score"), scoreTasks)
	if err != nil {
		return nil, beam.PCollection{}, err
	}
	first, err := shardmap.MapShards(s.Scope("score"), p.scorePlan(), tasks)
	if err != nil {
		return nil, beam.PCollection{}, err
	}
	cut := CutFraction(s, p.score.Field, p.o.KeepFraction, p.o.Workers(), first)

	selectTasks := p.tasks(p.layout, files)
	for i, f := range files {
		selectTasks[i].Input, selectTasks[i].InputSize = scored.Output(f), 0
		selectTasks[i].Errors = scored.Errors(f) // scored rows are valid: stays empty
		selectTasks[i].Part = shardmap.PartWritten
	}
	st, err := shardmap.CreateTasks(s.Scope("select"), selectTasks)
	if err != nil {
		return nil, beam.PCollection{}, err
	}
	sel := shardmap.Plan{
		Ops:    []rows.Spec{*mapstep.MustSpec(scoring.SelectFractionKind, scoring.FractionArgs{Field: p.score.Field, Seed: p.o.Seed, Scoring: p.fingerprint})},
		Policy: p.policy, Workers: p.o.Workers(),
	}
	// The selecting stage reads the cut from a file (see
	// shardmap.AttachGlobal).
	cutFile := shardmap.WriteFile(s.Scope("select"), storage.Join(scored.Dir, cutName), cut)
	second, err := shardmap.MapShards(s.Scope("select"), sel, shardmap.AttachGlobal(s.Scope("select"), st, cutFile))
	if err != nil {
		return nil, beam.PCollection{}, err
	}
	return []beam.PCollection{first, second}, cut, nil
}

// pending returns the files an incremental run still has to do, and the
// reports of the shards an earlier run of the same work completed (whose
// input is unchanged and still present, and whose output has the name this
// run gives it: reordered -i inputs rename outputs).
func pending(files []dataset.File, layout dataset.Layout, previous *shardmap.Manifest, prev *Report) ([]dataset.File, []ShardReport) {
	sizes := map[string]int64{}
	for _, in := range previous.Inputs {
		sizes[in.Path] = in.Bytes
	}
	done := map[string]ShardReport{}
	for _, sh := range prev.Shards {
		done[sh.Input] = sh
	}
	var todo []dataset.File
	var kept []ShardReport
	for _, f := range files {
		if sh, ok := done[f.Path]; ok && sizes[f.Path] == f.Size && sh.Output == layout.Output(f) {
			kept = append(kept, sh)
			continue
		}
		todo = append(todo, f)
	}
	return todo, kept
}

// baseManifest is the manifest before the shards' results are added.
func (p *plan) baseManifest(options any) (shardmap.Manifest, error) {
	opts, err := json.Marshal(options)
	if err != nil {
		return shardmap.Manifest{}, fmt.Errorf("encode options: %w", err)
	}
	return shardmap.Manifest{Command: p.command, Options: opts, Inputs: dataset.InputFiles(p.files)}, nil
}

// baseReport is the report before this run's shards are added; kept are
// the shards an incremental run reuses.
func (p *plan) baseReport(kept []ShardReport) Report {
	r := Report{
		Command: p.command, Model: p.info, Field: p.score.Field, Fingerprint: p.fingerprint,
		Selection: p.score.Select, KeepFraction: p.o.KeepFraction, Shards: kept,
	}
	if p.o.Attributes {
		r.Field = ""
	}
	return r
}
