// Package mapstep runs a step that turns every input shard into one output
// shard: it discovers the inputs, plans one shard task per input, builds the
// Beam pipeline (an optional measuring pass whose merged summary feeds the
// step, the map itself, the manifest), runs it and returns the manifest.
// Completed shards are skipped on a re-run with the same work, temporary
// files of killed runs are removed, and shards an earlier run wrote that
// this run did not are pruned. Stage packages (prepare, filter, annotate)
// describe their steps with a Step and call Run.
package mapstep

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/winnowlabs/winnow/pipelines/runner"
	"github.com/winnowlabs/winnow/transforms/dataset"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardio"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// Common are the options every dataset-writing step shares.
type Common struct {
	// Inputs are dataset directories, globs or shard files.
	Inputs []string `json:"inputs"`
	// Output is the output directory.
	Output string `json:"output"`
	// Compression of output shards: zst (default), gz or none.
	Compression string `json:"compression,omitempty"`
	// OnBadRow is "fail" (default) or "skip" (count it and write it with its
	// reason under _errors/).
	OnBadRow string `json:"on_bad_row,omitempty"`
	// MaxBadRows bounds skipped rows (0: no bound).
	MaxBadRows int64 `json:"max_bad_rows,omitempty"`
	// Parallelism is the row worker pool size (0: all cores).
	Parallelism int `json:"-"`
	// Progress receives progress lines (nil: stderr); Quiet silences them.
	Progress io.Writer `json:"-"`
	Quiet    bool      `json:"-"`
}

// Result is what a step reports when it is done. Submitted is set, and
// Manifest nil, when the runner took the job without waiting for it (see
// runner.ErrNotWaited).
type Result struct {
	Manifest  *shardmap.Manifest
	Counters  runner.Counters
	Submitted bool
}

func (c Common) Policy() (shardmap.Policy, error) {
	switch c.OnBadRow {
	case "", "fail":
		if c.MaxBadRows != 0 {
			return shardmap.Policy{}, fmt.Errorf("a bound on bad rows (%d) needs bad rows to be skipped, not to fail the run", c.MaxBadRows)
		}
		return shardmap.Policy{}, nil
	case "skip":
		return shardmap.Policy{SkipBad: true, MaxBad: c.MaxBadRows}, nil
	}
	return shardmap.Policy{}, fmt.Errorf("bad-row policy %q: want fail or skip", c.OnBadRow)
}

func (c Common) Layout() (dataset.Layout, error) {
	if c.Output == "" {
		return dataset.Layout{}, fmt.Errorf("no output directory given")
	}
	comp, err := shardio.ParseCompression(c.Compression)
	if err != nil {
		return dataset.Layout{}, err
	}
	return dataset.Layout{Dir: storage.Clean(c.Output), Ext: comp.Ext(), MultiInput: len(c.Inputs) > 1}, nil
}

func (c Common) RunOptions(label string, files []dataset.File, passes int) runner.Options {
	return runner.Options{
		Label:       label,
		TotalBytes:  dataset.TotalSize(files) * int64(passes),
		TotalShards: int64(len(files)),
		Progress:    c.Progress,
		Quiet:       c.Quiet,
	}
}

func (c Common) Workers() int {
	if c.Parallelism > 0 {
		return c.Parallelism
	}
	return runner.Parallelism()
}

// Step describes a one-shard-in, one-shard-out step.
type Step struct {
	// Command names the step in progress lines and the manifest.
	Command string
	// Options are recorded in the manifest.
	Options any
	Ops     []rows.Spec
	// Selector, when set, makes the step read each shard twice (select, then
	// write).
	Selector *rows.Spec
	// Measure, when set, first measures every input; the merged summary is
	// kept in the output directory as _summary.json and is the global data
	// of the ops and selector.
	Measure *shardmap.MeasureArgs
	// Tasks, when set, adjusts the planned shard tasks (e.g. to add a
	// rejected-rows output); it may drop tasks.
	Tasks func([]shardmap.Task, []dataset.File) ([]shardmap.Task, error)
	// Extra adds step-specific facts to the manifest after the run.
	Extra func(*shardmap.Manifest) error
}

// Log is where a run's messages go: Progress, or stderr.
func (c Common) Log() io.Writer {
	if c.Progress != nil {
		return c.Progress
	}
	return os.Stderr
}

// Run discovers the inputs, builds the pipeline for step and runs it.
func Run(ctx context.Context, c Common, step Step) (_ *Result, err error) {
	policy, err := c.Policy()
	if err != nil {
		return nil, err
	}
	layout, err := c.Layout()
	if err != nil {
		return nil, err
	}
	files, err := dataset.Discover(ctx, c.Inputs, dataset.Options{})
	if err != nil {
		return nil, err
	}
	ctx, out, err := c.Begin(ctx, step.Command, layout.Dir)
	if err != nil {
		return nil, err
	}
	defer func() { out.Close(err) }()

	p, s := beam.NewPipelineWithRoot()
	s = s.Scope(step.Command)
	planned := layout.Tasks(files)
	if step.Tasks != nil {
		if planned, err = step.Tasks(planned, files); err != nil {
			return nil, err
		}
	}
	tasks, err := shardmap.CreateTasks(s, planned)
	if err != nil {
		return nil, err
	}
	passes := 1
	if step.Measure != nil {
		mt, err := shardmap.CreateTasks(s.Scope("measure"), dataset.MeasureTasks(files))
		if err != nil {
			return nil, err
		}
		measured, err := shardmap.MapShards(s.Scope("measure"), shardmap.Plan{
			Selector: MustSpec("measure", step.Measure), Policy: policy, Workers: c.Workers(),
		}, mt)
		if err != nil {
			return nil, err
		}
		summary := shardmap.WriteFile(s, storage.Join(layout.Dir, shardmap.SummaryName), shardmap.Summarize(s, measured))
		tasks = shardmap.AttachGlobal(s, tasks, summary)
		passes++
	}
	if step.Selector != nil {
		passes++
	}
	results, err := shardmap.MapShards(s, shardmap.Plan{
		Ops: step.Ops, Selector: step.Selector, Policy: policy, Workers: c.Workers(),
	}, tasks)
	if err != nil {
		return nil, err
	}
	opts, err := json.Marshal(step.Options)
	if err != nil {
		return nil, fmt.Errorf("encode options: %w", err)
	}
	if _, err := shardmap.WriteManifest(s, layout.Dir, shardmap.Manifest{
		Command: step.Command, Options: opts, Inputs: dataset.InputFiles(files),
	}, results); err != nil {
		return nil, err
	}

	counters, err := runner.Run(ctx, p, c.RunOptions(step.Command, files, passes))
	return out.Finish(ctx, counters, err, FinishOptions{After: step.Extra})
}

// MustSpec encodes an op or selector spec whose arguments always encode.
func MustSpec(kind string, args any) *rows.Spec {
	s, err := rows.NewSpec(kind, args)
	if err != nil {
		panic(err) // only for arguments that cannot be encoded
	}
	return &s
}
