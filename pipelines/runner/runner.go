// Package runner executes winnow's Beam pipelines: on prism in this process
// by default, or on the runner Beam's flags select (--runner=dataflow,
// --runner=universal --endpoint=... for Flink and Spark job servers, ...).
// It shows progress while the pipeline runs and returns its counters.
package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	"github.com/winnowlabs/winnow/transforms/progress"
)

// Options tune a run's reporting.
type Options struct {
	// Label starts progress lines, e.g. "transform".
	Label string
	// TotalBytes and TotalShards are the work to do, for rate and ETA.
	TotalBytes  int64
	TotalShards int64
	// Progress receives progress lines (default os.Stderr); Quiet silences them.
	Progress io.Writer
	Quiet    bool
	// Interval between progress lines when not on a terminal (default 30s).
	Interval time.Duration
}

// Counters are the pipeline's counters in the "winnow" namespace, by name.
type Counters map[string]int64

// String renders the counters as name=value pairs, sorted by name.
func (c Counters) String() string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, c[n])
	}
	return strings.Join(parts, " ")
}

// Name returns the runner the pipeline will use.
func Name() string {
	if *runners.Runner == "" {
		return "prism"
	}
	return *runners.Runner
}

// IsLocal reports whether the pipeline runs in this process (prism without
// an external job server, or the direct runner), where progress is visible.
func IsLocal() bool {
	switch Name() {
	case "prism", "PrismRunner":
		return *jobopts.Endpoint == ""
	case "direct":
		return true
	}
	return false
}

// Parallelism returns the value of --parallelism (0 when unset: all cores).
func Parallelism() int {
	if *jobopts.Parallelism > 0 {
		return *jobopts.Parallelism
	}
	return 0
}

// Run executes p and returns its counters.
func Run(ctx context.Context, p *beam.Pipeline, o Options) (Counters, error) {
	if !beam.Initialized() {
		beam.Init()
	}
	progress.Global.Reset(o.TotalBytes, o.TotalShards)
	w := o.Progress
	if w == nil {
		w = os.Stderr
	}
	stop := func() {}
	if !o.Quiet && IsLocal() {
		stop = progress.Global.Start(ctx, w, o.Label, o.Interval)
	}
	res, err := beamx.RunWithMetrics(ctx, p)
	stop()
	if err != nil {
		return nil, fmt.Errorf("%s pipeline on %s: %w", o.Label, Name(), err)
	}
	counters := Counters{}
	if res != nil {
		for _, c := range res.Metrics().AllMetrics().Counters() {
			if c.Namespace() == "winnow" {
				counters[c.Name()] += c.Result()
			}
		}
	}
	return counters, nil
}
