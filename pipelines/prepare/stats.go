package prepare

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/winnowlabs/winnow/pipelines/mapstep"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/winnowlabs/winnow/pipelines/runner"
	"github.com/winnowlabs/winnow/transforms/dataset"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
	"github.com/winnowlabs/winnow/transforms/summary"
)

// StatsOptions configures Stats.
type StatsOptions struct {
	Inputs          []string
	TextExpression  string
	LabelExpression string
	// NoLabels skips the label histogram (for unlabelled corpora).
	NoLabels bool
	// Output, when set, is where the summary JSON is written; it must be
	// on a shared filesystem when the pipeline runs remotely.
	Output      string
	OnBadRow    string
	Parallelism int
	Progress    io.Writer
	Quiet       bool
}

// Stats measures datasets: rows, bytes, label histogram and text-length
// distribution per split, merged by a Beam combiner.
func Stats(ctx context.Context, o StatsOptions) (*summary.Summary, runner.Counters, error) {
	c := mapstep.Common{Inputs: o.Inputs, OnBadRow: o.OnBadRow, Parallelism: o.Parallelism, Progress: o.Progress, Quiet: o.Quiet}
	policy, err := c.Policy()
	if err != nil {
		return nil, nil, err
	}
	if o.TextExpression == "" {
		o.TextExpression = rows.DefaultTextExpression
	}
	if o.LabelExpression == "" && !o.NoLabels {
		o.LabelExpression = rows.DefaultLabelExpression
	}
	if o.NoLabels {
		o.LabelExpression = ""
	}
	files, err := dataset.Discover(ctx, o.Inputs, dataset.Options{})
	if err != nil {
		return nil, nil, err
	}
	out := o.Output
	if out != "" {
		if err := storage.CheckApart(ctx, out, o.Inputs); err != nil {
			return nil, nil, err
		}
	} else {
		if !runner.IsLocal() {
			return nil, nil, fmt.Errorf("the report's output must be on a filesystem the workers share when running on %s", runner.Name())
		}
		dir, err := os.MkdirTemp("", "winnow-stats-")
		if err != nil {
			return nil, nil, fmt.Errorf("temporary directory: %w", err)
		}
		defer os.RemoveAll(dir)
		out = filepath.Join(dir, "stats.json")
	}

	p, s := beam.NewPipelineWithRoot()
	s = s.Scope("stats")
	tasks, err := shardmap.CreateTasks(s, dataset.MeasureTasks(files))
	if err != nil {
		return nil, nil, err
	}
	measured, err := shardmap.MapShards(s, shardmap.Plan{
		Selector: mapstep.MustSpec("measure", shardmap.MeasureArgs{TextExpression: o.TextExpression, LabelExpression: o.LabelExpression}),
		Policy:   policy, Workers: c.Workers(),
	}, tasks)
	if err != nil {
		return nil, nil, err
	}
	shardmap.WriteFile(s, out, shardmap.Summarize(s, measured))
	counters, err := runner.Run(ctx, p, c.RunOptions("stats", files, 1))
	if err != nil {
		return nil, nil, err
	}
	b, err := storage.ReadFile(ctx, out)
	if err != nil {
		return nil, nil, err
	}
	sum, err := summary.Decode(b)
	if err != nil {
		return nil, nil, err
	}
	return sum, counters, nil
}
