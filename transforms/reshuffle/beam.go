package reshuffle

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/winnowlabs/winnow/internal/version"
	"github.com/winnowlabs/winnow/transforms/shardio"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
	"github.com/winnowlabs/winnow/transforms/summary"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*keyRowsFn)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*writeShardFn)(nil)).Elem())
	register.Emitter2[string, []byte]()
}

// Reshuffle reads every task (encoded shardmap.Tasks whose Errors path is
// set and whose Global is the file summary, the inputs' measured summary,
// attached with shardmap.AttachGlobal), routes each row to its output shard
// according to the plan made from the summary, and writes the shards. It
// returns a PCollection<[]byte> of encoded shardmap.Results: one per input
// (rows read, bad rows) and one per output shard.
func Reshuffle(s beam.Scope, a Args, policy shardmap.Policy, workers int, tasks beam.PCollection, summary string) (beam.PCollection, error) {
	s = s.Scope("reshuffle.Reshuffle")
	args, err := json.Marshal(a)
	if err != nil {
		return beam.PCollection{}, fmt.Errorf("encode arguments: %w", err)
	}
	pol, err := json.Marshal(policy)
	if err != nil {
		return beam.PCollection{}, fmt.Errorf("encode policy: %w", err)
	}
	keyed, read := beam.ParDo2(s, &keyRowsFn{Args: args, Policy: pol, Workers: workers}, tasks)
	// The summary is written before any row is keyed, so before any shard
	// is written: the shard writer reads it by name.
	written := beam.ParDo(s, &writeShardFn{Args: args, Summary: summary}, beam.GroupByKey(s, keyed))
	return beam.Flatten(s, read, written), nil
}

// keyRowsFn emits every row of a task keyed by its output shard, the row's
// text prefixed with its 8-byte position; then the task's Result.
type keyRowsFn struct {
	Args    []byte `json:"args"`
	Policy  []byte `json:"policy"`
	Workers int    `json:"workers"`

	plan *Plan
}

func (f *keyRowsFn) ProcessElement(ctx context.Context, enc []byte, emit func(string, []byte), done func([]byte)) error {
	var task shardmap.Task
	if err := json.Unmarshal(enc, &task); err != nil {
		return fmt.Errorf("decode task: %w", err)
	}
	if f.plan == nil {
		plan, err := planFrom(ctx, f.Args, task.Global)
		if err != nil {
			return err
		}
		f.plan = plan
	}
	var policy shardmap.Policy
	if err := json.Unmarshal(f.Policy, &policy); err != nil {
		return fmt.Errorf("decode policy: %w", err)
	}
	res, err := shardmap.Shared(f.Workers).ForEach(ctx, task, policy, func(i int64, raw []byte) error {
		dest, pos, err := f.plan.Destination(task.Input, task.Split, i)
		if err != nil {
			return err
		}
		v := make([]byte, 8+len(raw))
		binary.BigEndian.PutUint64(v, pos)
		copy(v[8:], raw)
		emit(dest, v)
		return nil
	})
	if err != nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	shardmap.CountResult(ctx, res)
	done(b)
	return nil
}

// writeShardFn writes one output shard, its rows sorted by position.
type writeShardFn struct {
	Args    []byte `json:"args"`
	Summary string `json:"summary"`

	plan *Plan
}

func (f *writeShardFn) ProcessElement(ctx context.Context, path string, values func(*[]byte) bool, emit func([]byte)) error {
	if f.plan == nil {
		plan, err := planFrom(ctx, f.Args, f.Summary)
		if err != nil {
			return err
		}
		f.plan = plan
	}
	var rows [][]byte
	var v []byte
	for values(&v) {
		rows = append(rows, v)
	}
	sort.Slice(rows, func(i, j int) bool {
		return binary.BigEndian.Uint64(rows[i]) < binary.BigEndian.Uint64(rows[j])
	})
	planned, ok := f.plan.File(path)
	if !ok {
		return fmt.Errorf("%s is not a planned output", path)
	}
	if int64(len(rows)) != planned.Rows {
		return fmt.Errorf("%s: %d rows arrived, %d were planned", path, len(rows), planned.Rows)
	}
	w, err := shardio.Create(ctx, path)
	if err != nil {
		return err
	}
	defer w.Abort()
	for _, r := range rows {
		if err := w.Write(r[8:]); err != nil {
			return err
		}
	}
	res := shardmap.Result{
		Task:        shardmap.Task{Output: path, Split: planned.Split},
		RowsOut:     w.Rows(),
		BytesOut:    w.Bytes(),
		CodeVersion: version.String(),
	}
	if err := w.Commit(); err != nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	shardmap.CountResult(ctx, res)
	emit(b)
	return nil
}

// planFrom makes the plan from the arguments and the summary file.
func planFrom(ctx context.Context, args []byte, summaryPath string) (*Plan, error) {
	var a Args
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, fmt.Errorf("decode arguments: %w", err)
	}
	if summaryPath == "" {
		return nil, fmt.Errorf("no row counts: the tasks carry no summary file")
	}
	enc, err := storage.ReadFile(ctx, summaryPath)
	if err != nil {
		return nil, fmt.Errorf("read row counts: %w", err)
	}
	sum, err := summary.Decode(enc)
	if err != nil {
		return nil, err
	}
	return NewPlan(a, sum)
}
