package prepare

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/winnowlabs/winnow/pipelines/mapstep"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/winnowlabs/winnow/pipelines/runner"
	"github.com/winnowlabs/winnow/transforms/dataset"
	"github.com/winnowlabs/winnow/transforms/reshuffle"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// ImportOptions configures Import.
type ImportOptions struct {
	mapstep.Common
	// TestSplit and ValidSplit carve test and valid splits out of train: a
	// fraction below 1 or a row count. A test split is required when the
	// input has none.
	TestSplit  float64 `json:"test_split,omitempty"`
	ValidSplit float64 `json:"valid_split,omitempty"`
	// RowsPerFile sizes the output shards (default 100,000, as bonepick).
	RowsPerFile int64 `json:"rows_per_file"`
	Seed        int64 `json:"seed"`
}

// Import reads a local Hugging Face style dataset (Parquet or JSON Lines,
// with split folders, split-prefixed file names such as
// train-00000-of-00002.parquet, or neither) and writes it as train/, valid/
// and test/ shards of JSON Lines, shuffled with a seed. Missing test and
// valid splits are carved out of train.
func Import(ctx context.Context, o ImportOptions) (*mapstep.Result, error) {
	args := o.importArgs()
	return runReshuffle(ctx, o.Common, "import", o, discover(o.Common, dataset.Options{FileNameSplits: true}), args)
}

// importArgs sets the defaults and returns the reshuffle's arguments.
func (o *ImportOptions) importArgs() reshuffle.Args {
	if o.RowsPerFile == 0 {
		o.RowsPerFile = 100_000
	}
	return reshuffle.Args{
		Mode: reshuffle.Import, Seed: o.Seed, TestSplit: o.TestSplit, ValidSplit: o.ValidSplit, RowsPerFile: o.RowsPerFile,
	}
}

// ReshardOptions configures Reshard.
type ReshardOptions struct {
	mapstep.Common
	NumFiles   int     `json:"num_files"`
	TestSplit  float64 `json:"test_split,omitempty"`
	ValidSplit float64 `json:"valid_split,omitempty"`
	Seed       int64   `json:"seed"`
}

// Reshard rewrites a dataset as NumFiles near-equal shards (row counts differ
// by at most one within a split), shuffled with a seed. A dataset with
// splits keeps them, its files shared out in proportion to their rows; with
// --test-split or --valid-split every row is pooled and split anew, the
// held-out splits getting round(max(1, files×rows/total)) files each, as
// bonepick does.
func Reshard(ctx context.Context, o ReshardOptions) (*mapstep.Result, error) {
	return runReshuffle(ctx, o.Common, "reshard", o, discover(o.Common, dataset.Options{}), reshuffle.Args{
		Mode: reshuffle.Reshard, Seed: o.Seed, TestSplit: o.TestSplit, ValidSplit: o.ValidSplit, NumFiles: o.NumFiles,
	})
}

// inputsFunc lists a step's input shards, and the paths its output must
// stay out of.
type inputsFunc func(ctx context.Context) (files []dataset.File, roots []string, err error)

// discover finds the shards of the step's inputs.
func discover(c mapstep.Common, dopts dataset.Options) inputsFunc {
	return func(ctx context.Context) ([]dataset.File, []string, error) {
		files, err := dataset.Discover(ctx, c.Inputs, dopts)
		return files, c.Inputs, err
	}
}

func runReshuffle(ctx context.Context, c mapstep.Common, command string, options any, inputs inputsFunc, args reshuffle.Args) (_ *mapstep.Result, err error) {
	policy, err := c.Policy()
	if err != nil {
		return nil, err
	}
	layout, err := c.Layout()
	if err != nil {
		return nil, err
	}
	args.Dir, args.Ext = layout.Dir, layout.Ext
	files, roots, err := inputs(ctx)
	if err != nil {
		return nil, err
	}
	c.Inputs = roots // what the output must stay out of
	if args.Mode == reshuffle.Import {
		seen := map[string]bool{}
		var splits []string
		for _, f := range files {
			if !seen[f.Split] {
				seen[f.Split] = true
				splits = append(splits, f.Split)
			}
		}
		if err := reshuffle.CheckImportSplits(args, splits); err != nil {
			return nil, err
		}
	}
	ctx, out, err := c.Begin(ctx, command, layout.Dir)
	if err != nil {
		return nil, err
	}
	defer func() { out.Close(err) }()

	p, s := beam.NewPipelineWithRoot()
	s = s.Scope(command)
	measureTasks, err := shardmap.CreateTasks(s.Scope("count"), dataset.MeasureTasks(files))
	if err != nil {
		return nil, err
	}
	measured, err := shardmap.MapShards(s.Scope("count"), shardmap.Plan{
		Selector: mapstep.MustSpec("measure", shardmap.MeasureArgs{}), Policy: policy, Workers: c.Workers(),
	}, measureTasks)
	if err != nil {
		return nil, err
	}
	summaryPath := storage.Join(layout.Dir, shardmap.SummaryName)
	counted := shardmap.WriteFile(s, summaryPath, shardmap.Summarize(s, measured))
	tasks := make([]shardmap.Task, len(files))
	for i, f := range files {
		tasks[i] = shardmap.Task{Input: f.Path, InputSize: f.Size, Split: f.Split, Rel: f.Rel, Errors: layout.Errors(f)}
	}
	taskCol, err := shardmap.CreateTasks(s, tasks)
	if err != nil {
		return nil, err
	}
	results, err := reshuffle.Reshuffle(s, args, policy, c.Workers(), shardmap.AttachGlobal(s, taskCol, counted), summaryPath)
	if err != nil {
		return nil, err
	}
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, fmt.Errorf("encode options: %w", err)
	}
	if _, err := shardmap.WriteManifest(s, layout.Dir, shardmap.Manifest{
		Command: command, Options: opts, Inputs: dataset.InputFiles(files),
	}, results); err != nil {
		return nil, err
	}
	counters, err := runner.Run(ctx, p, c.RunOptions(command, files, 2))
	return out.Finish(ctx, counters, err, mapstep.FinishOptions{})
}
