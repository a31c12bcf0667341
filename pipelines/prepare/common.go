// Package prepare holds the data-preparation pipelines: import, sample,
// transform, balance, reshard and stats. Each step is a composite Beam
// transform over shards; the record-level work is plain Go from
// transforms/rows, transforms/sampling and friends, run by the shard engine.
package prepare

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

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

// Result is what a step reports when it is done.
type Result struct {
	Manifest *shardmap.Manifest
	Counters runner.Counters
}

func (c Common) policy() (shardmap.Policy, error) {
	switch c.OnBadRow {
	case "", "fail":
		if c.MaxBadRows != 0 {
			return shardmap.Policy{}, fmt.Errorf("--max-bad-rows needs --on-bad-row=skip")
		}
		return shardmap.Policy{}, nil
	case "skip":
		return shardmap.Policy{SkipBad: true, MaxBad: c.MaxBadRows}, nil
	}
	return shardmap.Policy{}, fmt.Errorf("--on-bad-row must be fail or skip, not %q", c.OnBadRow)
}

func (c Common) layout() (dataset.Layout, error) {
	if c.Output == "" {
		return dataset.Layout{}, fmt.Errorf("no output directory given (-o)")
	}
	comp, err := shardio.ParseCompression(c.Compression)
	if err != nil {
		return dataset.Layout{}, err
	}
	return dataset.Layout{Dir: storage.Clean(c.Output), Ext: comp.Ext(), MultiInput: len(c.Inputs) > 1}, nil
}

func (c Common) runOptions(label string, files []dataset.File, passes int) runner.Options {
	return runner.Options{
		Label:       label,
		TotalBytes:  dataset.TotalSize(files) * int64(passes),
		TotalShards: int64(len(files)),
		Progress:    c.Progress,
		Quiet:       c.Quiet,
	}
}

func (c Common) workers() int {
	if c.Parallelism > 0 {
		return c.Parallelism
	}
	return runner.Parallelism()
}

// mapStep describes a one-shard-in, one-shard-out step.
type mapStep struct {
	command string
	options any // recorded in the manifest
	ops     []rows.Spec
	// selector, when set, makes the step read each shard twice (select, then
	// write).
	selector *rows.Spec
	// measure, when set, first measures every input; the merged summary is
	// the global input of the ops and selector.
	measure *shardmap.MeasureArgs
	// extra adds step-specific facts to the manifest after the run.
	extra func(*shardmap.Manifest) error
}

// runMap discovers the inputs, builds the pipeline for step and runs it.
func runMap(ctx context.Context, c Common, step mapStep) (*Result, error) {
	policy, err := c.policy()
	if err != nil {
		return nil, err
	}
	layout, err := c.layout()
	if err != nil {
		return nil, err
	}
	files, err := dataset.Discover(ctx, c.Inputs, dataset.Options{})
	if err != nil {
		return nil, err
	}
	if err := checkOutputOutsideInputs(layout.Dir, c.Inputs); err != nil {
		return nil, err
	}
	previous, err := previousManifest(ctx, layout.Dir)
	if err != nil {
		return nil, err
	}
	if err := dataset.CleanTemporaries(ctx, layout.Dir); err != nil {
		return nil, err
	}

	p, s := beam.NewPipelineWithRoot()
	s = s.Scope(step.command)
	tasks, err := shardmap.CreateTasks(s, layout.Tasks(files))
	if err != nil {
		return nil, err
	}
	var global beam.PCollection
	passes := 1
	if step.measure != nil {
		mt, err := shardmap.CreateTasks(s.Scope("measure"), dataset.MeasureTasks(files))
		if err != nil {
			return nil, err
		}
		measured, err := shardmap.MapShards(s.Scope("measure"), shardmap.Plan{
			Selector: mustSpec("measure", step.measure), Policy: policy, Workers: c.workers(),
		}, mt, beam.PCollection{})
		if err != nil {
			return nil, err
		}
		global = shardmap.Summarize(s, measured)
		shardmap.WriteFile(s, storage.Join(layout.Dir, shardmap.SummaryName), global)
		passes++
	}
	if step.selector != nil {
		passes++
	}
	results, err := shardmap.MapShards(s, shardmap.Plan{
		Ops: step.ops, Selector: step.selector, Policy: policy, Workers: c.workers(),
	}, tasks, global)
	if err != nil {
		return nil, err
	}
	opts, err := json.Marshal(step.options)
	if err != nil {
		return nil, fmt.Errorf("encode options: %w", err)
	}
	if _, err := shardmap.WriteManifest(s, layout.Dir, shardmap.Manifest{
		Command: step.command, Options: opts, Inputs: dataset.InputFiles(files),
	}, results); err != nil {
		return nil, err
	}

	counters, err := runner.Run(ctx, p, c.runOptions(step.command, files, passes))
	if err != nil {
		return nil, err
	}
	m, err := shardmap.ReadManifest(ctx, layout.Dir)
	if err != nil {
		return nil, err
	}
	if err := pruneStale(ctx, previous, m); err != nil {
		return nil, err
	}
	if step.extra != nil {
		if err := step.extra(m); err != nil {
			return nil, err
		}
		if err := m.Write(ctx, layout.Dir); err != nil {
			return nil, err
		}
	}
	return &Result{Manifest: m, Counters: counters}, nil
}

func mustSpec(kind string, args any) *rows.Spec {
	s, err := rows.NewSpec(kind, args)
	if err != nil {
		panic(err) // only for arguments that cannot be encoded
	}
	return &s
}

// checkOutputOutsideInputs refuses to write a step's output into one of its
// inputs, which a later run would read back.
func checkOutputOutsideInputs(out string, inputs []string) error {
	for _, in := range inputs {
		in = storage.Clean(in)
		if in == out {
			return fmt.Errorf("the output directory %s is also an input", out)
		}
		if _, err := storage.Rel(in, out); err == nil && !storage.HasGlob(in) {
			return fmt.Errorf("the output directory %s is inside the input %s", out, in)
		}
	}
	return nil
}
