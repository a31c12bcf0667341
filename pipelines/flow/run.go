package flow

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/winnowlabs/winnow/pipelines/annotate"
	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// Options configure Run.
type Options struct {
	// DryRun prints the plan, with which steps would run and why, and runs
	// nothing.
	DryRun bool
	// Until stops after the named step (a step name such as "split" or
	// "train-fasttext", or a kind such as "train").
	Until string
	// Force reruns the named steps (names or kinds) even when complete,
	// and so every step after them that depends on them.
	Force []string
	// Out receives the plan and one line per step.
	Out io.Writer
	// Progress receives the pipelines' progress lines (nil: stderr);
	// Quiet silences them.
	Progress io.Writer
	Quiet    bool

	// annotateHook adjusts the annotator's options (tests).
	annotateHook func(*annotate.Options)
	// stepHook is called as each step starts, under its flags (tests).
	stepHook func(*Step)
}

// Outcome is what a run did.
type Outcome struct {
	Steps []StepOutcome `json:"steps"`
	// Report is the report.html written, "" on a dry run.
	Report string `json:"report,omitempty"`
}

// StepOutcome is one step's fate in a run.
type StepOutcome struct {
	Step   string `json:"step"`
	Dir    string `json:"dir"`
	Ran    bool   `json:"ran"`
	Reason string `json:"reason"`
}

var errSubmitted = errors.New("the step's pipeline was submitted without waiting for it (an asynchronous submission or a dry run on the runner); a flow needs every step to finish")

// runState is what a running step sees.
type runState struct {
	spec         *Spec
	exp          string
	step         *Step
	out, log     io.Writer
	progress     io.Writer
	quiet        bool
	annotateHook func(*annotate.Options)
	rows, bytes  int64
}

func (r *runState) counts(res *mapstep.Result) {
	if res != nil && res.Manifest != nil {
		r.rows, r.bytes = res.Manifest.Totals.RowsIn, res.Manifest.Totals.BytesIn
	}
}

// matches reports whether sel names st (by name or kind).
func matches(sel string, st *Step) bool {
	return sel == st.Name || sel == st.Kind
}

// Run runs the flow's steps in order, skipping the complete ones, and
// writes the report.
func Run(ctx context.Context, s *Spec, o Options) (*Outcome, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	steps, err := s.Plan(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.checkShared(steps, o.Out); err != nil {
		return nil, err
	}
	for _, sel := range append(slices.Clone(o.Force), o.Until) {
		if sel == "" {
			continue
		}
		if !slices.ContainsFunc(steps, func(st *Step) bool { return matches(sel, st) }) {
			var names []string
			for _, st := range steps {
				names = append(names, st.Name)
			}
			return nil, fmt.Errorf("the flow has no step %q (steps: %s)", sel, strings.Join(names, ", "))
		}
	}
	exp := s.Experiment
	out := &Outcome{}
	rerun := map[*Step]string{}
	stopped := false
	if o.DryRun {
		fmt.Fprintf(o.Out, "plan of %s in %s:\n", s.Name, exp)
	}
	for _, st := range steps {
		if stopped {
			break
		}
		reason := ""
		_, done := st.complete(ctx, exp)
		var rerunNeed *Step
		for _, n := range st.Needs {
			if _, ok := rerun[n]; ok {
				rerunNeed = n
				break
			}
		}
		switch {
		case isForced(o.Force, st):
			reason = "forced"
		case st.Always:
			reason = "runs every time (incremental: adds the shards not filtered yet)"
		case !done && rerunNeed != nil:
			reason = fmt.Sprintf("needs %s, which runs", rerunNeed.Name)
		case !done:
			reason = whyIncomplete(ctx, exp, st)
		case rerunNeed != nil:
			reason = fmt.Sprintf("needs %s, which reruns", rerunNeed.Name)
		}
		if o.Until != "" && matches(o.Until, st) {
			stopped = true
		}
		if reason == "" {
			fmt.Fprintf(o.Out, "  %-24s complete, skipped  %s\n", st.Name, st.Dir)
			out.Steps = append(out.Steps, StepOutcome{Step: st.Name, Dir: st.Dir, Reason: "complete"})
			continue
		}
		rerun[st] = reason
		out.Steps = append(out.Steps, StepOutcome{Step: st.Name, Dir: st.Dir, Ran: !o.DryRun, Reason: reason})
		if o.DryRun {
			fmt.Fprintf(o.Out, "  %-24s will run: %s  %s\n", st.Name, reason, st.Dir)
			continue
		}
		fmt.Fprintf(o.Out, "  %-24s running (%s)  %s\n", st.Name, reason, st.Dir)
		if err := runStep(ctx, s, st, o); err != nil {
			return out, fmt.Errorf("step %s: %w", st.Name, err)
		}
	}
	if o.DryRun {
		return out, nil
	}
	if err := writePlan(ctx, s, steps); err != nil {
		return out, err
	}
	rep, err := WriteReport(ctx, exp)
	if err != nil {
		return out, fmt.Errorf("report: %w", err)
	}
	out.Report = rep
	return out, nil
}

func isForced(force []string, st *Step) bool {
	return slices.ContainsFunc(force, func(f string) bool { return matches(f, st) })
}

// whyIncomplete says why a step with no valid record must run.
func whyIncomplete(ctx context.Context, exp string, st *Step) string {
	if ok, _ := storage.Exists(ctx, st.recordPath(exp)); ok {
		return "its record is for other work"
	}
	if ok, _ := storage.IsDir(ctx, st.Dir); ok {
		return "unfinished: resumes its committed shards"
	}
	others, _ := storage.List(ctx, storage.Join(exp, RecordsDir, st.Name+"-*.json"))
	if len(others) > 0 {
		return "its work changed (new fingerprint " + st.Fingerprint[:12] + ")"
	}
	return "never ran"
}

// runStep runs one step under its Beam flags and records it.
func runStep(ctx context.Context, s *Spec, st *Step, o Options) error {
	restore, err := setFlags(s.Runner, st.Kind)
	if err != nil {
		return err
	}
	defer restore()
	if storage.IsLocal(s.Experiment) {
		if err := os.MkdirAll(s.Experiment, 0o755); err != nil {
			return err
		}
	}
	// A forced step's old record goes first: killed meanwhile, the step
	// must not look complete.
	if err := storage.RemoveIfExists(ctx, st.recordPath(s.Experiment)); err != nil {
		return err
	}
	if o.stepHook != nil {
		o.stepHook(st)
	}
	r := &runState{spec: s, exp: s.Experiment, step: st, out: o.Out, log: io.Discard, progress: o.Progress, quiet: o.Quiet, annotateHook: o.annotateHook}
	start, cpu0 := time.Now(), cpuSeconds()
	facts, err := st.run(ctx, r)
	if err != nil {
		return err
	}
	wall, cpu := time.Since(start).Seconds(), cpuSeconds()-cpu0
	rec := &Record{Step: st.Name, Kind: st.Kind, Fingerprint: st.Fingerprint, Dir: st.Dir, Started: start.UTC(),
		Seconds: wall, CPUSeconds: cpu, Rows: r.rows, Bytes: r.bytes}
	if wall > 0 {
		rec.CoresBusy = cpu / wall
	}
	for _, n := range st.Needs {
		rec.Needs = append(rec.Needs, n.Name)
	}
	if facts != nil {
		if rec.Facts, err = json.Marshal(facts); err != nil {
			return fmt.Errorf("encode results: %w", err)
		}
	}
	if st.Kind == "select" {
		if err := writeJSON(ctx, storage.Join(st.Dir, "selection.json"), facts); err != nil {
			return err
		}
	}
	fmt.Fprintf(o.Out, "  %-24s done in %s\n", st.Name, time.Duration(wall*float64(time.Second)).Round(time.Millisecond))
	return writeJSON(ctx, st.recordPath(s.Experiment), rec)
}

// cpuSeconds is the CPU time this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// setFlags sets the Beam flags of a step of the given kind on
// flag.CommandLine: the flow's flags, a flag of the step's taking the place
// of the flow's of the same name. A list flag (resource_hints, whose Set
// appends) is emptied first, so that it holds exactly the values given.
// The returned function puts every flag it touched back to its value
// before, by value.
func setFlags(rn *Runner, kind string) (restore func(), err error) {
	if rn == nil {
		return func() {}, nil
	}
	flags := map[string]FlagValue{}
	for k, v := range rn.Flags {
		flags[k] = v
	}
	for k, v := range rn.Steps[kind] {
		flags[k] = v
	}
	var undo []func()
	restore = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	for _, name := range sortedKeys(flags) {
		f := flag.CommandLine.Lookup(strings.TrimLeft(name, "-"))
		if f == nil {
			restore()
			return nil, fmt.Errorf("runner: unknown Beam flag %q", name)
		}
		undo = append(undo, snapshot(f.Value))
		if err := setFlag(f, flags[name]); err != nil {
			restore()
			return nil, fmt.Errorf("runner: flag %s=%q: %w", name, strings.Join(flags[name], " "), err)
		}
	}
	return restore, nil
}

// setFlag gives f exactly the values vals (one, unless f is a list flag).
func setFlag(f *flag.Flag, vals FlagValue) error {
	if isListFlag(f.Value) {
		elem := reflect.ValueOf(f.Value).Elem()
		elem.Set(reflect.Zero(elem.Type()))
	} else if len(vals) != 1 {
		return fmt.Errorf("%s takes one value, not %d", f.Name, len(vals))
	}
	for _, v := range vals {
		if err := f.Value.Set(v); err != nil {
			return err
		}
	}
	return nil
}

// isListFlag reports whether a flag's value is a list held in a variable
// (Beam's resource_hints and sdk_harness_container_image_override).
func isListFlag(v flag.Value) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().Kind() == reflect.Slice && rv.Elem().CanSet()
}

// snapshot returns what puts v back to its current value: by value when v
// points to the variable holding it (every flag of the flag package, and
// Beam's list flags, whose String cannot be set back), else through Set
// with its current String.
func snapshot(v flag.Value) func() {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || !rv.Elem().CanSet() {
		s := v.String()
		return func() { _ = v.Set(s) }
	}
	elem := rv.Elem()
	old := reflect.New(elem.Type()).Elem()
	old.Set(elem)
	if elem.Kind() == reflect.Slice && !elem.IsNil() {
		// Set appends, possibly in place: keep a copy.
		c := reflect.MakeSlice(elem.Type(), elem.Len(), elem.Len())
		reflect.Copy(c, elem)
		old.Set(c)
	}
	return func() { elem.Set(old) }
}

// planRecord is the plan as flow.json keeps it for the report.
type planRecord struct {
	Name  string `json:"name"`
	File  string `json:"file"`
	Spec  *Spec  `json:"spec"`
	Steps []struct {
		Name, Kind, Fingerprint, Dir string
	} `json:"steps"`
}

func writePlan(ctx context.Context, s *Spec, steps []*Step) error {
	p := planRecord{Name: s.Name, File: s.file, Spec: s}
	for _, st := range steps {
		p.Steps = append(p.Steps, struct{ Name, Kind, Fingerprint, Dir string }{st.Name, st.Kind, st.Fingerprint, st.Dir})
	}
	return writeJSON(ctx, storage.Join(s.Experiment, PlanFile), p)
}

// readFacts reads the facts of a completed step.
func readFacts[T any](ctx context.Context, exp string, st *Step) (*T, error) {
	rec, ok := st.complete(ctx, exp)
	if !ok {
		return nil, fmt.Errorf("step %s has not completed", st.Name)
	}
	var v T
	if err := json.Unmarshal(rec.Facts, &v); err != nil {
		return nil, fmt.Errorf("step %s: read its results: %w", st.Name, err)
	}
	return &v, nil
}
