package annotate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/pipelines/runner"
	"github.com/winnowlabs/winnow/transforms/agreement"
	"github.com/winnowlabs/winnow/transforms/dataset"
	"github.com/winnowlabs/winnow/transforms/progress"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardio"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// AgreementOptions configure Agreement.
type AgreementOptions struct {
	// A and B are the two annotation sets (dataset directories, globs or
	// shard files).
	A, B []string
	// KeyExpression selects the key rows are joined on (default .id).
	KeyExpression string
	// LabelExpression selects the label in both sets (default .score);
	// LabelExpressionA and LabelExpressionB override it for one set.
	LabelExpression, LabelExpressionA, LabelExpressionB string
	// OnBadRow is "fail" (default) or "skip": a row without a key or a
	// label is then counted and left out.
	OnBadRow string
	// Output, when set, is where the report is written as JSON; it must be
	// on a filesystem the workers share when the pipeline runs remotely.
	Output   string
	Progress io.Writer
	Quiet    bool
}

// AgreementReport is the agreement between two annotation sets and what was
// read.
type AgreementReport struct {
	agreement.Report
	RowsA    int64 `json:"rows_a"`
	RowsB    int64 `json:"rows_b"`
	BadRowsA int64 `json:"bad_rows_a,omitempty"`
	BadRowsB int64 `json:"bad_rows_b,omitempty"`
	// Submitted is set, and nothing else, when the runner took the job
	// without waiting for it: the report is written to Output when it ends.
	Submitted bool `json:"-"`
}

// Agreement joins two annotation sets on a key with a Beam CoGroupByKey and
// computes their agreement (coverage, exact agreement, Cohen's kappa,
// quadratic-weighted kappa, MAE, Spearman, confusion matrix) with a
// combiner. A key found twice in one set is an error.
func Agreement(ctx context.Context, o AgreementOptions) (*AgreementReport, error) {
	c := mapstep.Common{OnBadRow: o.OnBadRow, Progress: o.Progress, Quiet: o.Quiet}
	policy, err := c.Policy()
	if err != nil {
		return nil, err
	}
	key := orDefault(o.KeyExpression, ".id")
	label := orDefault(o.LabelExpression, rows.DefaultLabelExpression)
	sides := []*readLabelsFn{
		{Side: "a", Key: key, Label: orDefault(o.LabelExpressionA, label), SkipBad: policy.SkipBad},
		{Side: "b", Key: key, Label: orDefault(o.LabelExpressionB, label), SkipBad: policy.SkipBad},
	}
	for _, f := range sides {
		for _, e := range []string{f.Key, f.Label} {
			if _, err := rows.Compile(e); err != nil {
				return nil, err
			}
		}
	}
	out := o.Output
	if out != "" {
		if err := storage.CheckApart(ctx, out, append(slices.Clone(o.A), o.B...)); err != nil {
			return nil, err
		}
	} else {
		if !runner.IsLocal() {
			return nil, fmt.Errorf("the report's output must be on a filesystem the workers share when running on %s", runner.Name())
		}
		dir, err := os.MkdirTemp("", "winnow-agreement-")
		if err != nil {
			return nil, fmt.Errorf("temporary directory: %w", err)
		}
		defer os.RemoveAll(dir)
		out = filepath.Join(dir, "agreement.json")
	}

	p, s := beam.NewPipelineWithRoot()
	s = s.Scope("agreement")
	var all []dataset.File
	var labels []beam.PCollection
	for i, inputs := range [][]string{o.A, o.B} {
		if len(inputs) == 0 {
			return nil, fmt.Errorf("no input for annotation set %s", sides[i].Side)
		}
		files, err := dataset.Discover(ctx, inputs, dataset.Options{})
		if err != nil {
			return nil, err
		}
		all = append(all, files...)
		ss := s.Scope(sides[i].Side)
		tasks, err := shardmap.CreateTasks(ss, dataset.MeasureTasks(files))
		if err != nil {
			return nil, err
		}
		labels = append(labels, beam.ParDo(ss, sides[i], tasks))
	}
	joined := beam.CoGroupByKey(s, labels[0], labels[1])
	cells := beam.ParDo(s, &joinFn{}, joined)
	shardmap.WriteFile(s, out, beam.Combine(s, &agreementFn{}, cells))
	counters, err := runner.Run(ctx, p, c.RunOptions("agreement", all, 1))
	if errors.Is(err, runner.ErrNotWaited) {
		return &AgreementReport{Submitted: true}, nil
	}
	if err != nil {
		return nil, err
	}
	b, err := storage.ReadFile(ctx, out)
	if err != nil {
		return nil, err
	}
	rep := &AgreementReport{
		RowsA: counters["agreement_rows_a"], RowsB: counters["agreement_rows_b"],
		BadRowsA: counters["agreement_bad_rows_a"], BadRowsB: counters["agreement_bad_rows_b"],
	}
	if err := json.Unmarshal(b, &rep.Report); err != nil {
		return nil, fmt.Errorf("read the agreement report: %w", err)
	}
	return rep, nil
}

var (
	cLabelRows = map[string]beam.Counter{"a": beam.NewCounter("winnow", "agreement_rows_a"), "b": beam.NewCounter("winnow", "agreement_rows_b")}
	cLabelBad  = map[string]beam.Counter{"a": beam.NewCounter("winnow", "agreement_bad_rows_a"), "b": beam.NewCounter("winnow", "agreement_bad_rows_b")}
)

func init() {
	beam.RegisterType(reflect.TypeOf((*readLabelsFn)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*joinFn)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*agreementFn)(nil)).Elem())
	register.Emitter2[string, string]()
	register.Emitter1[string]()
	register.Iter1[string]()
	beam.RegisterCoder(reflect.TypeOf((*cellCounts)(nil)), encodeCells, decodeCells)
}

// readLabelsFn reads the shard of a task and emits each row's key and label.
type readLabelsFn struct {
	Side    string `json:"side"`
	Key     string `json:"key"`
	Label   string `json:"label"`
	SkipBad bool   `json:"skip_bad"`

	key, label *rows.Expr
}

func (f *readLabelsFn) Setup() error {
	var err error
	if f.key, err = rows.Compile(f.Key); err != nil {
		return err
	}
	f.label, err = rows.Compile(f.Label)
	return err
}

func (f *readLabelsFn) ProcessElement(ctx context.Context, enc []byte, emit func(string, string)) error {
	var task shardmap.Task
	if err := json.Unmarshal(enc, &task); err != nil {
		return fmt.Errorf("decode task: %w", err)
	}
	var n, bad int64
	err := shardio.Each(ctx, task.Input, func(line []byte, no int64) error {
		n++
		k, l, err := f.keyLabel(line, task.Input, no)
		if err != nil {
			if !f.SkipBad {
				return fmt.Errorf("%s:%d: %w", task.Input, no, err)
			}
			bad++
			return nil
		}
		emit(k, l)
		return nil
	})
	if err != nil {
		return err
	}
	cLabelRows[f.Side].Inc(ctx, n)
	cLabelBad[f.Side].Inc(ctx, bad)
	progress.Global.Rows.Add(n)
	progress.Global.BadRows.Add(bad)
	progress.Global.BytesIn.Add(task.InputSize)
	progress.Global.Shards.Add(1)
	return nil
}

func (f *readLabelsFn) keyLabel(line []byte, source string, lineNo int64) (string, string, error) {
	obj, err := rows.New(line, source, lineNo).Object()
	if err != nil {
		return "", "", err
	}
	v, ok, err := f.key.One(obj)
	if err != nil {
		return "", "", err
	}
	if !ok {
		return "", "", rows.BadRowf("key expression %s produced no value", f.key)
	}
	k, err := rows.ScalarString(v)
	if err != nil {
		return "", "", rows.BadRowf("key %s: %v", f.key, err)
	}
	l, err := rows.LabelOf(f.label, obj)
	return k, l, err
}

// joinFn turns a key's labels in both sets into one cell: the pair, or the
// label of the one set that has the key.
type joinFn struct{}

func (joinFn) ProcessElement(key string, a, b func(*string) bool, emit func(string)) error {
	la, err := single(key, "first", a)
	if err != nil {
		return err
	}
	lb, err := single(key, "second", b)
	if err != nil {
		return err
	}
	cell, err := json.Marshal([2]*string{la, lb})
	if err != nil {
		return fmt.Errorf("encode cell: %w", err)
	}
	emit(string(cell))
	return nil
}

// single returns a key's one label in a set, nil when the set lacks it.
func single(key, set string, labels func(*string) bool) (*string, error) {
	var first *string
	var l string
	for n := 0; labels(&l); n++ {
		if n > 0 {
			return nil, fmt.Errorf("key %q appears twice in the %s set", key, set)
		}
		v := l
		first = &v
	}
	return first, nil
}

// cellCounts counts the join's cells: label pairs, and keys in one set only.
type cellCounts struct {
	Pairs map[string]int64 `json:"pairs"` // JSON [a, b] -> count
	OnlyA int64            `json:"only_a"`
	OnlyB int64            `json:"only_b"`
}

func encodeCells(c *cellCounts) ([]byte, error) { return json.Marshal(c) }
func decodeCells(b []byte) (*cellCounts, error) {
	var c cellCounts
	err := json.Unmarshal(b, &c)
	if c.Pairs == nil {
		c.Pairs = map[string]int64{}
	}
	return &c, err
}

// agreementFn counts cells and computes the report (JSON) from the counts.
type agreementFn struct{}

func (agreementFn) CreateAccumulator() *cellCounts {
	return &cellCounts{Pairs: map[string]int64{}}
}

func (agreementFn) AddInput(acc *cellCounts, cell string) (*cellCounts, error) {
	var ab [2]*string
	if err := json.Unmarshal([]byte(cell), &ab); err != nil {
		return nil, fmt.Errorf("decode cell: %w", err)
	}
	switch {
	case ab[0] != nil && ab[1] != nil:
		acc.Pairs[cell]++
	case ab[0] != nil:
		acc.OnlyA++
	default:
		acc.OnlyB++
	}
	return acc, nil
}

func (agreementFn) MergeAccumulators(a, b *cellCounts) *cellCounts {
	for k, n := range b.Pairs {
		a.Pairs[k] += n
	}
	a.OnlyA += b.OnlyA
	a.OnlyB += b.OnlyB
	return a
}

func (agreementFn) ExtractOutput(acc *cellCounts) ([]byte, error) {
	cells := make([]string, 0, len(acc.Pairs))
	for c := range acc.Pairs {
		cells = append(cells, c)
	}
	sort.Strings(cells) // a fixed order: the statistics' sums do not depend on the runner
	var pairs []agreement.Pair
	for _, c := range cells {
		var ab [2]string
		if err := json.Unmarshal([]byte(c), &ab); err != nil {
			return nil, fmt.Errorf("decode cell: %w", err)
		}
		for range acc.Pairs[c] {
			pairs = append(pairs, agreement.Pair{A: ab[0], B: ab[1]})
		}
	}
	rep := agreement.Compute(pairs, int(acc.OnlyA), int(acc.OnlyB))
	return json.Marshal(rep)
}
