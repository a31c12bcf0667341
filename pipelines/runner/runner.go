// Package runner executes winnow's Beam pipelines: on prism in this process
// by default, or on the runner Beam's flags select (--runner=dataflow,
// --runner=universal --endpoint=... for Flink and Spark job servers, ...).
// It shows progress while the pipeline runs and returns its counters.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"

	// The runners and filesystems winnow uses, registered by import as
	// beamx does, without beamx's dot runner and the generated callers of
	// exec/optimized (2% of a cold build): winnow's emitters and iterators
	// are registered where they are used.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/direct"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/flink"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/spark"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"

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

// ErrNotWaited is returned when the runner accepted the pipeline but did not
// run it to the end here: a Dataflow --dry_run (which only prints the job) or
// an --async submission. Its outputs appear when the job finishes.
var ErrNotWaited = errors.New("the pipeline was submitted without waiting for it to finish")

// Error is a failed pipeline. Its message is the failing step's own error,
// without the runner's stage and bundle dump; Full keeps everything.
type Error struct {
	Cause string
	Full  error
}

func (e *Error) Error() string { return e.Cause }

// Unwrap returns the runner's full error.
func (e *Error) Unwrap() error { return e.Full }

// cause extracts the user function's error from a runner error, which ends
// with "DoFn[...] failed:\n<error>".
func cause(err error) string {
	msg := err.Error()
	const marker = "] failed:\n"
	if i := strings.LastIndex(msg, marker); i >= 0 {
		if c := strings.TrimSpace(msg[i+len(marker):]); c != "" {
			return c
		}
	}
	return msg
}

// Name returns the runner the pipeline will use.
func Name() string {
	if *runners.Runner == "" {
		return "prism"
	}
	return *runners.Runner
}

// ownEndpoint is the job server prism started in this process: prism
// writes its address into the --endpoint flag on the first run.
var ownEndpoint string

// IsLocal reports whether the pipeline runs in this process (prism without
// an external job server, or the direct runner, with the workers in this
// process), where progress is visible.
func IsLocal() bool {
	switch Name() {
	case "prism", "PrismRunner":
		return (*jobopts.Endpoint == "" || *jobopts.Endpoint == ownEndpoint) && workersInProcess()
	case "direct":
		return true
	}
	return false
}

// startsPrism reports whether Beam starts a prism job server in this
// process for the run.
func startsPrism() bool {
	return (Name() == "prism" || Name() == "PrismRunner") && *jobopts.Endpoint == ""
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
	if err := setWorkerBinary(); err != nil {
		return nil, fmt.Errorf("%s on %s: %w", o.Label, Name(), err)
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
	startsOwn := startsPrism()
	// Each loopback run leaves an empty file in the temporary directory;
	// those of earlier runs are removed while this one starts.
	var tidied chan int
	if jobopts.IsLoopback() || startsOwn {
		tidied = make(chan int, 1)
		go func() { tidied <- removeLoopbackLitter(os.TempDir(), time.Now()) }()
	}
	res, err := beam.Run(ctx, Name(), p)
	if tidied != nil {
		if n := <-tidied; n > 0 {
			slog.Debug("removed files Beam's loopback runs left", "dir", os.TempDir(), "files", n)
		}
	}
	if startsOwn {
		ownEndpoint = *jobopts.Endpoint
	}
	stop()
	if err != nil {
		slog.Debug("pipeline failed", "runner", Name(), "error", err)
		return nil, fmt.Errorf("%s on %s: %w", o.Label, Name(), &Error{Cause: cause(err), Full: err})
	}
	if res == nil || *jobopts.Async {
		return nil, ErrNotWaited
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
