package shardmap

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/winnowlabs/winnow/internal/version"
	"github.com/winnowlabs/winnow/transforms/storage"
	"github.com/winnowlabs/winnow/transforms/summary"
)

// Counters every shard step reports, in the "winnow" namespace.
var (
	cRowsIn   = beam.NewCounter("winnow", "rows_in")
	cRowsOut  = beam.NewCounter("winnow", "rows_out")
	cBadRows  = beam.NewCounter("winnow", "bad_rows")
	cBytesIn  = beam.NewCounter("winnow", "bytes_in")
	cBytesOut = beam.NewCounter("winnow", "bytes_out")
	cShards   = beam.NewCounter("winnow", "shards_done")
	cResumed  = beam.NewCounter("winnow", "shards_resumed")
	// Tasks of a run's first stage (Part PartRead) that were already done.
	cIntermediateResumed = beam.NewCounter("winnow", "intermediate_shards_resumed")
)

func init() {
	register.DoFn3x1[context.Context, []byte, func([]byte), error](&mapShardsFn{})
	register.DoFn3x1[string, func(*[]byte) bool, func([]byte), error](&attachGlobalFn{})
	register.DoFn4x1[context.Context, int, func(*[]byte) bool, func(string), error](&writeManifestFn{})
	register.Combiner3[*summary.Summary, []byte, []byte](&summarizeFn{})
	register.DoFn3x1[context.Context, []byte, func(string), error](&writeFileFn{})
	register.Emitter1[[]byte]()
	register.Emitter1[string]()
	register.Iter1[[]byte]()
	beam.RegisterCoder(reflect.TypeOf((*summary.Summary)(nil)), encodeSummary, decodeSummary)
}

func encodeSummary(s *summary.Summary) ([]byte, error) { return s.Encode() }
func decodeSummary(b []byte) (*summary.Summary, error) { return summary.Decode(b) }

// EncodeTasks serialises tasks as the elements MapShards takes.
func EncodeTasks(tasks []Task) ([][]byte, error) {
	out := make([][]byte, len(tasks))
	for i, t := range tasks {
		b, err := json.Marshal(t)
		if err != nil {
			return nil, fmt.Errorf("encode task: %w", err)
		}
		out[i] = b
	}
	return out, nil
}

// CreateTasks makes a PCollection of encoded tasks, reshuffled so that a
// distributed runner spreads them over its workers.
func CreateTasks(s beam.Scope, tasks []Task) (beam.PCollection, error) {
	enc, err := EncodeTasks(tasks)
	if err != nil {
		return beam.PCollection{}, err
	}
	s = s.Scope("shardmap.CreateTasks")
	col := beam.CreateList(s, enc)
	return beam.Reshuffle(s, col), nil
}

// MapShards runs plan on every task of tasks (a PCollection<[]byte> of
// encoded Tasks) and returns a PCollection<[]byte> of encoded Results. A
// task whose Global names a file (see AttachGlobal) gives the plan's
// builders that file's contents as run-wide data; otherwise they get nil.
//
// Global data travels as a file rather than a side input: prism re-evaluates
// a stage that has a side input in a busy loop for as long as its bundle
// runs, which would take a core away from the shards for the whole step.
func MapShards(s beam.Scope, plan Plan, tasks beam.PCollection) (beam.PCollection, error) {
	s = s.Scope("shardmap.MapShards")
	enc, err := plan.Encode()
	if err != nil {
		return beam.PCollection{}, err
	}
	return beam.ParDo(s, &mapShardsFn{Plan: enc}, tasks), nil
}

// AttachGlobal returns tasks with their Global set to the one path in file
// (a PCollection<string>, e.g. from WriteFile), so that they run only once
// the file is written; they are reshuffled for distribution. Only this
// short step has a side input (the tasks).
func AttachGlobal(s beam.Scope, tasks, file beam.PCollection) beam.PCollection {
	s = s.Scope("shardmap.AttachGlobal")
	return beam.Reshuffle(s, beam.ParDo(s, &attachGlobalFn{}, file, beam.SideInput{Input: tasks}))
}

type attachGlobalFn struct{}

func (attachGlobalFn) ProcessElement(path string, tasks func(*[]byte) bool, emit func([]byte)) error {
	var enc []byte
	for tasks(&enc) {
		var t Task
		if err := json.Unmarshal(enc, &t); err != nil {
			return fmt.Errorf("decode task: %w", err)
		}
		t.Global = path
		b, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("encode task: %w", err)
		}
		emit(b)
	}
	return nil
}

// mapShardsFn runs tasks on the process-wide Engine, several at once; results
// are emitted from the bundle's goroutine as tasks finish.
type mapShardsFn struct {
	Plan []byte `json:"plan"`

	plan    Plan
	works   map[string]*Work // by global data file ("" for none)
	eng     *Engine
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	slots   chan struct{}
	mu      sync.Mutex
	results []Result
	err     error
}

func (f *mapShardsFn) Setup() error {
	p, err := DecodePlan(f.Plan)
	if err != nil {
		return err
	}
	f.plan = p
	f.works = map[string]*Work{}
	f.eng = Shared(p.Workers)
	f.slots = f.eng.shards
	return nil
}

func (f *mapShardsFn) StartBundle(ctx context.Context, _ func([]byte)) {
	f.ctx, f.cancel = context.WithCancel(ctx)
	f.results, f.err = nil, nil
}

// work builds (once per global data file) the Work of a task.
func (f *mapShardsFn) work(ctx context.Context, global string) (*Work, error) {
	if w, ok := f.works[global]; ok {
		return w, nil
	}
	var data []byte
	if global != "" {
		var err error
		if data, err = storage.ReadFile(ctx, global); err != nil {
			return nil, fmt.Errorf("read the step's global data: %w", err)
		}
	}
	w, err := f.plan.Build(data)
	if err != nil {
		return nil, err
	}
	f.works[global] = &w
	return &w, nil
}

func (f *mapShardsFn) ProcessElement(ctx context.Context, enc []byte, emit func([]byte)) error {
	var task Task
	if err := json.Unmarshal(enc, &task); err != nil {
		return fmt.Errorf("decode task: %w", err)
	}
	work, err := f.work(ctx, task.Global)
	if err != nil {
		return f.stop(err)
	}
	if err := f.flush(ctx, emit); err != nil {
		return f.stop(err)
	}
	f.slots <- struct{}{}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer func() { <-f.slots }()
		res, err := f.eng.Run(f.ctx, task, *work, f.plan.Policy)
		f.mu.Lock()
		defer f.mu.Unlock()
		if err != nil {
			if f.err == nil {
				f.err = err
			}
			return
		}
		f.results = append(f.results, res)
	}()
	return nil
}

func (f *mapShardsFn) FinishBundle(ctx context.Context, emit func([]byte)) error {
	f.wg.Wait()
	defer f.cancel()
	return f.flush(ctx, emit)
}

// stop cancels the tasks still running and waits for them, so that they
// remove their temporary files before the failure ends the bundle (and,
// locally, the process), and returns err.
func (f *mapShardsFn) stop(err error) error {
	f.cancel()
	f.wg.Wait()
	return err
}

// flush emits finished results and reports the first task error.
func (f *mapShardsFn) flush(ctx context.Context, emit func([]byte)) error {
	f.mu.Lock()
	done, err := f.results, f.err
	f.results = nil
	f.mu.Unlock()
	for _, r := range done {
		b, merr := json.Marshal(r)
		if merr != nil {
			return fmt.Errorf("encode result: %w", merr)
		}
		CountResult(ctx, r)
		emit(b)
	}
	return err
}

// CountResult adds a finished task to the pipeline's counters, which count
// what the run's manifest does: every input row once, every output shard
// once. A measuring pass adds nothing; a task that only read (the reading
// half of a reshuffle, Part PartRead) adds rows and bytes read and bad
// rows; one that only wrote (no input, or Part PartWritten) adds rows and
// bytes written and its shard. A first stage's resumed tasks are counted
// as intermediate_shards_resumed.
func CountResult(ctx context.Context, r Result) {
	if r.Measured != nil {
		return
	}
	if r.Input != "" && r.Part != PartWritten {
		cRowsIn.Inc(ctx, r.RowsIn)
		cBadRows.Inc(ctx, r.BadRows)
		cBytesIn.Inc(ctx, r.BytesIn)
	}
	if r.Resumed && r.Part == PartRead {
		cIntermediateResumed.Inc(ctx, 1)
	}
	if r.Output != "" && r.Part != PartRead {
		cRowsOut.Inc(ctx, r.RowsOut)
		cBytesOut.Inc(ctx, r.BytesOut)
		cShards.Inc(ctx, 1)
		if r.Resumed {
			cResumed.Inc(ctx, 1)
		}
	}
}

// Summarize merges the measurements in a PCollection<[]byte> of encoded
// Results (from a plan with the "measure" selector) into one encoded
// summary.Summary, the global input of later steps.
func Summarize(s beam.Scope, results beam.PCollection) beam.PCollection {
	s = s.Scope("shardmap.Summarize")
	return beam.Combine(s, &summarizeFn{}, results)
}

type summarizeFn struct{}

func (summarizeFn) CreateAccumulator() *summary.Summary { return summary.New() }

func (summarizeFn) AddInput(acc *summary.Summary, enc []byte) (*summary.Summary, error) {
	var r Result
	if err := json.Unmarshal(enc, &r); err != nil {
		return nil, fmt.Errorf("decode result: %w", err)
	}
	if r.Measured == nil {
		return nil, fmt.Errorf("result for %s carries no measurements", r.Input)
	}
	if err := acc.AddTask(*r.Measured, r.TextLengths); err != nil {
		return nil, err
	}
	return acc, nil
}

func (summarizeFn) MergeAccumulators(a, b *summary.Summary) (*summary.Summary, error) {
	if err := a.Merge(b); err != nil {
		return nil, err
	}
	return a, nil
}

func (summarizeFn) ExtractOutput(acc *summary.Summary) ([]byte, error) {
	acc.Sort()
	return acc.Encode()
}

// WriteManifest gathers a PCollection<[]byte> of encoded Results and writes
// the manifest of dir, starting from base (command, options, inputs). It
// returns a PCollection<string> holding the manifest's path.
func WriteManifest(s beam.Scope, dir string, base Manifest, results beam.PCollection) (beam.PCollection, error) {
	s = s.Scope("shardmap.WriteManifest")
	b, err := json.Marshal(base)
	if err != nil {
		return beam.PCollection{}, fmt.Errorf("encode manifest: %w", err)
	}
	// One key gathers every result, including when there are none.
	keyed := beam.AddFixedKey(s, results)
	grouped := beam.GroupByKey(s, keyed)
	return beam.ParDo(s, &writeManifestFn{Dir: dir, Base: b}, grouped), nil
}

type writeManifestFn struct {
	Dir  string `json:"dir"`
	Base []byte `json:"base"`
}

func (f *writeManifestFn) ProcessElement(ctx context.Context, _ int, results func(*[]byte) bool, emit func(string)) error {
	var m Manifest
	if err := json.Unmarshal(f.Base, &m); err != nil {
		return fmt.Errorf("decode manifest: %w", err)
	}
	m.CodeVersion = version.String()
	var enc []byte
	for results(&enc) {
		var r Result
		if err := json.Unmarshal(enc, &r); err != nil {
			return fmt.Errorf("decode result: %w", err)
		}
		m.AddResult(r)
	}
	if err := m.Write(ctx, f.Dir); err != nil {
		return err
	}
	emit(storage.Join(f.Dir, ManifestName))
	return nil
}

// SummaryName is the file in which a measuring step keeps the summary of its
// inputs, beside its manifest.
const SummaryName = "_summary.json"

// WriteFile writes the single []byte element of col to path (atomically) and
// returns a PCollection<string> holding the path.
func WriteFile(s beam.Scope, path string, col beam.PCollection) beam.PCollection {
	s = s.Scope("shardmap.WriteFile")
	return beam.ParDo(s, &writeFileFn{Path: path}, col)
}

type writeFileFn struct {
	Path string `json:"path"`
}

func (f *writeFileFn) ProcessElement(ctx context.Context, b []byte, emit func(string)) error {
	if err := storage.WriteFile(ctx, f.Path, b); err != nil {
		return err
	}
	emit(f.Path)
	return nil
}
