package prepare

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/winnowlabs/winnow/internal/version"
	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/pipelines/runner"
	"github.com/winnowlabs/winnow/transforms/dataset"
	"github.com/winnowlabs/winnow/transforms/ftdata"
	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardio"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
	"github.com/winnowlabs/winnow/transforms/summary"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*writeFastTextFn)(nil)).Elem())
	register.Iter1[[]byte]()
	register.Emitter1[string]()
}

// FastTextOptions configures ToFastText. Common.Compression must be empty
// or "none": fastText reads plain text.
type FastTextOptions struct {
	mapstep.Common
	// TextExpression and LabelExpression select the text and the label
	// (defaults .text and .score).
	TextExpression  string `json:"text_expression"`
	LabelExpression string `json:"label_expression"`
	// Normalization names the text normalizer (default whitespace, as
	// bonepick's convert-to-fasttext).
	Normalization string `json:"normalization"`
	// Tokenizer is the tokenizer.json that tokenizer-based normalizers
	// need; it must be readable at the same path by every worker.
	Tokenizer string `json:"tokenizer,omitempty"`
	// MaxLength, when positive, keeps the first MaxLength characters of
	// every text, before normalizing.
	MaxLength int `json:"max_length,omitempty"`
	// Auto, when positive, replaces numeric labels by their bin among Auto
	// equal-count bins of the training split's labels.
	Auto int `json:"auto,omitempty"`
	// MultiLabel reads the label as an object {criterion: bool} and writes
	// every true criterion as a label.
	MultiLabel bool `json:"multi_label,omitempty"`
}

// FastTextResult is what ToFastText wrote. Submitted is set, and Manifest
// and Report are nil, when the runner took the job without waiting for it
// (see runner.ErrNotWaited).
type FastTextResult struct {
	// Manifest counts rows in, lines out and bad rows per split; its
	// outputs are the split files.
	Manifest  *shardmap.Manifest
	Report    *ftdata.Report
	Counters  runner.Counters
	Submitted bool
}

// PartsDir holds, inside a fastText data directory, the per-shard line files
// and completion markers of a run that has not finished. A re-run converts
// only the shards without a valid marker; a finished run removes the folder.
const PartsDir = "_parts"

// splitFiles names the file of each split, in the order they are written.
var splitFiles = []struct{ split, name string }{
	{"train", ftdata.TrainName}, {"valid", ftdata.ValidName}, {"test", ftdata.TestName},
}

// ToFastText writes a dataset with train/, test/ and optionally valid/
// splits as fastText's training files: train.txt, valid.txt (when the
// dataset has a valid split) and test.txt, one "__label__<label> <text>" line
// per row, with report.json (ftdata.Report) and _manifest.json beside them.
// Several inputs are pooled split by split.
//
// Every input shard becomes a task whose "fasttext-line" op writes its lines
// to a part file under _parts/; the parts of each split are then
// concatenated, ordered by input path, into the split's file, committed
// atomically. Line counts are checked against the rows each task wrote and
// the report's label histograms are counted from the files themselves. With
// Auto the training split is measured first: its numeric labels make the
// bins, which label every split.
func ToFastText(ctx context.Context, o FastTextOptions) (_ *FastTextResult, err error) {
	o.TextExpression, o.LabelExpression = defaultExpressions(o.TextExpression, o.LabelExpression)
	if o.Normalization == "" {
		o.Normalization = normalize.Whitespace
	}
	if o.Compression != "" && o.Compression != "none" {
		return nil, fmt.Errorf("fastText files are plain text; compression %s does not apply", o.Compression)
	}
	if o.Output == "" {
		return nil, errors.New("no output directory given")
	}
	out := storage.Clean(o.Output)
	policy, err := o.Policy()
	if err != nil {
		return nil, err
	}
	nm, err := plannedNormalizer(o.Normalization, o.Tokenizer)
	if err != nil {
		return nil, err
	}
	o.Tokenizer = nm.Tokenizer
	args := ftdata.LineArgs{
		TextExpression: o.TextExpression, LabelExpression: o.LabelExpression, Normalizer: nm,
		MaxLength: o.MaxLength, Auto: o.Auto, MultiLabel: o.MultiLabel,
	}
	if err := args.Validate(); err != nil {
		return nil, err
	}
	files, err := dataset.Discover(ctx, o.Inputs, dataset.Options{})
	if err != nil {
		return nil, err
	}
	if err := checkFastTextSplits(o.Inputs, files); err != nil {
		return nil, err
	}
	parent := ctx // the claim's context ends with Finish
	ctx, claimed, err := o.Begin(ctx, "to-fasttext", out)
	if err != nil {
		return nil, err
	}
	defer func() { claimed.Close(err) }()
	// Until the new report is written, the directory is visibly unfinished.
	if err := storage.RemoveIfExists(ctx, storage.Join(out, ftdata.ReportName)); err != nil {
		return nil, err
	}

	p, s := beam.NewPipelineWithRoot()
	s = s.Scope("to-fasttext")
	tasks, err := shardmap.CreateTasks(s, fastTextTasks(out, len(o.Inputs) > 1, files))
	if err != nil {
		return nil, err
	}
	var train []dataset.File
	summaryPath := ""
	if o.Auto > 0 {
		for _, f := range files {
			if f.Split == "train" {
				train = append(train, f)
			}
		}
		summaryPath = storage.Join(out, shardmap.SummaryName)
		summary, err := measureLabels(s, o, policy, train, summaryPath)
		if err != nil {
			return nil, err
		}
		tasks = shardmap.AttachGlobal(s, tasks, summary)
	}
	results, err := shardmap.MapShards(s, shardmap.Plan{
		Ops: []rows.Spec{*mapstep.MustSpec("fasttext-line", args)}, Policy: policy, Workers: o.Workers(),
	}, tasks)
	if err != nil {
		return nil, err
	}
	options, err := json.Marshal(struct {
		FastTextOptions
		Normalizer normalize.Spec `json:"normalizer"`
	}{o, nm})
	if err != nil {
		return nil, fmt.Errorf("encode options: %w", err)
	}
	inputs := make([]string, len(o.Inputs))
	for i, in := range o.Inputs {
		inputs[i] = storage.Clean(in)
	}
	if err := writeFastText(s, out, shardmap.Manifest{
		Command: "to-fasttext", Options: options, Inputs: dataset.InputFiles(files),
	}, ftdata.Report{
		Inputs: inputs, TextExpression: o.TextExpression, LabelExpression: o.LabelExpression,
		Normalizer: nm, MaxLength: o.MaxLength, MultiLabel: o.MultiLabel,
	}, o.Auto, results, summaryPath); err != nil {
		return nil, err
	}

	// The measuring pass reads the training shards once more.
	counters, err := runner.Run(ctx, p, o.RunOptions("to-fasttext", append(train, files...), 1))
	res, err := claimed.Finish(ctx, counters, err, mapstep.FinishOptions{})
	if err != nil {
		return nil, err
	}
	if res.Submitted {
		return &FastTextResult{Submitted: true}, nil
	}
	rep, err := ftdata.ReadReport(parent, out)
	if err != nil {
		return nil, err
	}
	return &FastTextResult{Manifest: res.Manifest, Report: rep, Counters: counters}, nil
}

// measureLabels measures the texts and labels of files, writes their merged
// summary to path and returns a PCollection holding path once it is
// written. Measuring the texts too leaves rows without one, which are bad
// rows, out of the label counts.
func measureLabels(s beam.Scope, o FastTextOptions, policy shardmap.Policy, files []dataset.File, path string) (beam.PCollection, error) {
	s = s.Scope("measure")
	tasks, err := shardmap.CreateTasks(s, dataset.MeasureTasks(files))
	if err != nil {
		return beam.PCollection{}, err
	}
	measured, err := shardmap.MapShards(s, shardmap.Plan{
		Selector: mapstep.MustSpec("measure", shardmap.MeasureArgs{TextExpression: o.TextExpression, LabelExpression: o.LabelExpression}),
		Policy:   policy, Workers: o.Workers(),
	}, tasks)
	if err != nil {
		return beam.PCollection{}, err
	}
	return shardmap.WriteFile(s, path, shardmap.Summarize(s, measured)), nil
}

// checkFastTextSplits requires train and test splits among the inputs and
// refuses shards outside split folders.
func checkFastTextSplits(inputs []string, files []dataset.File) error {
	have := map[string]bool{}
	for _, f := range files {
		if f.Split == "" {
			return fmt.Errorf("%s is not in a train/, valid/ or test/ folder: fastText export needs a dataset with train/ and test/ splits (valid/ is optional); reshard it with a test split", f.Path)
		}
		have[f.Split] = true
	}
	for _, split := range []string{"train", "test"} {
		if !have[split] {
			return fmt.Errorf("no %s/ split in %s: to-fasttext needs train/ and test/ splits (valid/ is optional)", split, strings.Join(inputs, ", "))
		}
	}
	return nil
}

// fastTextTasks plans one task per input shard: its lines go to a part file
// under _parts/, its completion marker beside them, and its skipped bad rows
// to the output's _errors/, which outlives the parts.
func fastTextTasks(out string, multiInput bool, files []dataset.File) []shardmap.Task {
	parts := dataset.Layout{Dir: storage.Join(out, PartsDir), Ext: shardio.TextExt, MultiInput: multiInput}
	sidecars := dataset.Layout{Dir: out, MultiInput: multiInput}
	tasks := parts.Tasks(files)
	for i, f := range files {
		tasks[i].Errors = sidecars.Errors(f)
		// The run's outputs are the split files: a part counts its input.
		tasks[i].Part = shardmap.PartRead
	}
	return tasks
}

// writeFastText gathers the tasks' results (a PCollection<[]byte> of encoded
// shardmap.Results) and writes the split files, the report and the manifest
// of dir, then removes the parts. summaryPath is the file of the measured
// training summary when auto is set (written before any line, so before any
// result reaches this step).
func writeFastText(s beam.Scope, dir string, manifest shardmap.Manifest, report ftdata.Report, auto int, results beam.PCollection, summaryPath string) error {
	s = s.Scope("prepare.WriteFastText")
	m, err := json.Marshal(manifest)
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	r, err := json.Marshal(report)
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	// One key gathers every result: the splits are written one after the
	// other, each as one sequential stream.
	grouped := beam.GroupByKey(s, beam.AddFixedKey(s, results))
	beam.ParDo(s, &writeFastTextFn{Dir: dir, Manifest: m, Report: r, Auto: auto, Summary: summaryPath}, grouped)
	return nil
}

// writeFastTextFn is the DoFn of writeFastText. It recomputes the --auto
// bins from the same summary the line ops used, for the report, and emits
// the manifest's path (a writing step with an output keeps prism from
// spinning while it runs).
type writeFastTextFn struct {
	Dir      string `json:"dir"`
	Manifest []byte `json:"manifest"`
	Report   []byte `json:"report"`
	Auto     int    `json:"auto,omitempty"`
	Summary  string `json:"summary,omitempty"`
}

func (f *writeFastTextFn) ProcessElement(ctx context.Context, _ int, results func(*[]byte) bool, emit func(string)) error {
	var m shardmap.Manifest
	if err := json.Unmarshal(f.Manifest, &m); err != nil {
		return fmt.Errorf("decode manifest: %w", err)
	}
	var rep ftdata.Report
	if err := json.Unmarshal(f.Report, &rep); err != nil {
		return fmt.Errorf("decode report: %w", err)
	}
	m.CodeVersion = version.String()
	rep.Code = m.CodeVersion
	if f.Auto > 0 {
		g, err := storage.ReadFile(ctx, f.Summary)
		if err != nil {
			return fmt.Errorf("automatic label bins: %w", err)
		}
		sum, err := summary.Decode(g)
		if err != nil {
			return fmt.Errorf("automatic label bins: %w", err)
		}
		if rep.AutoBins, err = ftdata.TrainingBins(sum, f.Auto); err != nil {
			return err
		}
	}

	bySplit := map[string][]shardmap.Result{}
	var enc []byte
	for results(&enc) {
		var r shardmap.Result
		if err := json.Unmarshal(enc, &r); err != nil {
			return fmt.Errorf("decode result: %w", err)
		}
		m.AddResult(r)
		bySplit[r.Split] = append(bySplit[r.Split], r)
	}
	m.Outputs = nil
	rep.Splits = map[string]ftdata.SplitCounts{}
	for _, sf := range splitFiles {
		path := storage.Join(f.Dir, sf.name)
		parts := bySplit[sf.split]
		if len(parts) == 0 {
			// An earlier run's file of a split this input lacks.
			if err := storage.RemoveIfExists(ctx, path); err != nil {
				return err
			}
			continue
		}
		sort.Slice(parts, func(i, j int) bool { return parts[i].Input < parts[j].Input })
		counts, err := concatParts(ctx, path, parts)
		if err != nil {
			return err
		}
		rep.Splits[sf.split] = counts
		sc := m.Splits[sf.split]
		sc.Files = 1
		m.Outputs = append(m.Outputs, shardmap.OutputFile{
			Path: path, Split: sf.split, Rows: sc.RowsOut, Bytes: sc.BytesOut, BadRows: sc.BadRows,
		})
		shardmap.CountResult(ctx, shardmap.Result{
			Task: shardmap.Task{Output: path, Split: sf.split}, RowsOut: sc.RowsOut, BytesOut: sc.BytesOut,
		})
	}
	m.Totals.Files = int64(len(m.Outputs))
	if err := ftdata.WriteReport(ctx, f.Dir, &rep); err != nil {
		return err
	}
	if err := m.Write(ctx, f.Dir); err != nil {
		return err
	}
	if err := removeTree(ctx, storage.Join(f.Dir, PartsDir)); err != nil {
		return err
	}
	emit(storage.Join(f.Dir, shardmap.ManifestName))
	return nil
}

// concatParts writes the parts' lines, in order, to path (under a temporary
// name, renamed into place when complete) and counts lines and labels. Each
// part must hold as many lines as its task reported writing.
func concatParts(ctx context.Context, path string, parts []shardmap.Result) (ftdata.SplitCounts, error) {
	counts := ftdata.SplitCounts{Labels: map[string]int64{}}
	tmp := storage.TempName(path)
	w, err := storage.Create(ctx, tmp)
	if err != nil {
		return counts, err
	}
	err = func() error {
		bw := bufio.NewWriterSize(w, 1<<20)
		for _, p := range parts {
			before := counts.Rows
			if err := copyLines(ctx, bw, p.Output, &counts); err != nil {
				return err
			}
			if n := counts.Rows - before; n != p.RowsOut {
				return fmt.Errorf("%s holds %d lines, but its task wrote %d", p.Output, n, p.RowsOut)
			}
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("write %s: %w", tmp, err)
		}
		return nil
	}()
	if cerr := w.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", tmp, cerr)
	}
	if err == nil {
		err = storage.Rename(ctx, tmp, path)
	}
	if err != nil {
		_ = storage.Remove(ctx, tmp)
	}
	return counts, err
}

// copyLines copies the fastText lines of the file at path to w, counting
// each line and its labels in counts.
func copyLines(ctx context.Context, w io.Writer, path string, counts *ftdata.SplitCounts) error {
	f, err := storage.Open(ctx, path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	lineStart := true
	for {
		chunk, err := r.ReadSlice('\n')
		if len(chunk) > 0 {
			if lineStart {
				countLabels(counts, chunk)
			}
			if _, werr := w.Write(chunk); werr != nil {
				return fmt.Errorf("write lines of %s: %w", path, werr)
			}
			lineStart = chunk[len(chunk)-1] == '\n'
		}
		switch {
		case err == io.EOF:
			if !lineStart {
				return fmt.Errorf("%s ends inside a line", path)
			}
			return nil
		case err != nil && !errors.Is(err, bufio.ErrBufferFull):
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
}

var labelPrefix = []byte(ftdata.LabelPrefix)

// countLabels counts one line whose start is line: its leading
// "__label__<label>" words.
func countLabels(counts *ftdata.SplitCounts, line []byte) {
	counts.Rows++
	for bytes.HasPrefix(line, labelPrefix) {
		line = line[len(labelPrefix):]
		end := bytes.IndexAny(line, " \n")
		if end < 0 {
			end = len(line)
		}
		counts.Labels[string(line[:end])]++
		if end == len(line) || line[end] == '\n' {
			return
		}
		line = line[end+1:]
	}
}

// removeTree deletes dir and everything below it.
func removeTree(ctx context.Context, dir string) error {
	if storage.IsLocal(dir) {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("remove %s: %w", dir, err)
		}
		return nil
	}
	files, err := storage.ListTree(ctx, dir)
	if err != nil {
		return err
	}
	for _, p := range files {
		if err := storage.Remove(ctx, p); err != nil {
			return err
		}
	}
	return nil
}
