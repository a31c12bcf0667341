// Package traineval trains fastText classifiers on the data directories
// written by `winnow to-fasttext` and evaluates them, keeping the model, its
// manifest and its evaluation results together in a model directory (the
// work of `winnow train-fasttext` and `winnow eval-fasttext`).
package traineval

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/winnowlabs/winnow/internal/version"
	"github.com/winnowlabs/winnow/models/fasttext"
	"github.com/winnowlabs/winnow/models/modeldir"
	outputs "github.com/winnowlabs/winnow/transforms/dataset"
	"github.com/winnowlabs/winnow/transforms/ftdata"
	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// Kind is the manifest kind of fastText model directories.
const Kind = "fasttext"

// ModelFile is the model's file name inside a model directory.
const ModelFile = "model.bin"

// DefaultArgs returns bonepick's train-fasttext defaults: dim 256, lr 0.1,
// wordNgrams 3, minCount 5, epoch 3, bucket 2,000,000, ws 5, neg 5, loss
// softmax, seed 42, no character n-grams, one thread per CPU.
func DefaultArgs() fasttext.Args {
	a := fasttext.DefaultArgs()
	a.Dim, a.LR, a.WordNgrams, a.MinCount, a.Epoch = 256, 0.1, 3, 5, 3
	a.Bucket, a.WS, a.Neg, a.Loss, a.Seed = 2000000, 5, 5, fasttext.LossSoftmax, 42
	a.Thread = runtime.NumCPU()
	return a
}

// TrainOptions configure Train.
type TrainOptions struct {
	// Datasets are to-fasttext output directories; training uses the
	// concatenation of their train.txt files.
	Datasets []string
	// Output is the model directory to create or overwrite.
	Output string
	Args   fasttext.Args
	// Progress receives training progress; it may be nil.
	Progress fasttext.ProgressFunc
	// Log receives one-line status messages; it may be nil.
	Log io.Writer
}

// dataset is one input directory with its report.
type dataset struct {
	dir    string
	report *ftdata.Report
}

// readDatasets loads the reports of dirs and checks that they agree on the
// normalizer, which the model will record.
func readDatasets(ctx context.Context, dirs []string) ([]dataset, normalize.Spec, error) {
	if len(dirs) == 0 {
		return nil, normalize.Spec{}, errors.New("no data directory given (-d DIR, written by `winnow to-fasttext`)")
	}
	var out []dataset
	var norm normalize.Spec
	for i, d := range dirs {
		r, err := ftdata.ReadReport(ctx, d)
		if err != nil {
			return nil, norm, err
		}
		if i == 0 {
			norm = r.Normalizer
		} else if r.Normalizer != norm {
			return nil, norm, fmt.Errorf("data directories disagree on the text normalizer: %s uses %s, %s uses %s",
				dirs[0], describe(norm), d, describe(r.Normalizer))
		}
		out = append(out, dataset{dir: d, report: r})
	}
	return out, norm, nil
}

func describe(n normalize.Spec) string {
	if n.Name == "" {
		return "no normalizer"
	}
	s := n.Name + " " + n.Version
	if n.TokenizerHash != "" {
		s += " (tokenizer " + n.TokenizerHash + ")"
	}
	return s
}

// Train trains a model on the datasets' training files and writes the model
// directory: model.bin and a manifest with the labels, normalizer, training
// arguments and a fingerprint of the training data.
func Train(ctx context.Context, o TrainOptions) (_ *modeldir.Manifest, err error) {
	sets, norm, err := readDatasets(ctx, o.Datasets)
	if err != nil {
		return nil, err
	}
	if o.Output == "" {
		return nil, errors.New("no model directory given (-o MODEL_DIR)")
	}
	ctx, claim, err := outputs.ClaimOutput(ctx, o.Output, o.Datasets, "train-fasttext", o.Log)
	if err != nil {
		return nil, err
	}
	defer func() { claim.Release(ctx, err != nil) }()
	var files []string
	for _, s := range sets {
		p := storage.Join(s.dir, ftdata.TrainName)
		if ok, err := storage.Exists(ctx, p); err != nil || !ok {
			return nil, fmt.Errorf("data directory %s has no %s (%v)", s.dir, ftdata.TrainName, err)
		}
		files = append(files, p)
	}
	input, refs, fingerprint, cleanup, err := combine(ctx, files, o.Output)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	logf(o.Log, "training on %d file(s), %d bytes, fingerprint %s", len(refs), totalBytes(refs), fingerprint[:12])
	start := time.Now()
	var watch lossWatch
	m, err := fasttext.Train(ctx, input, o.Args, watch.wrap(o.Args.Loss, o.Progress))
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	if msg := watch.stuck(); msg != "" {
		logf(o.Log, "warning: %s", msg)
	}
	if err := m.Save(filepath.Join(o.Output, ModelFile)); err != nil {
		return nil, err
	}
	targs := o.Args.Map()
	targs["training_seconds"] = elapsed.Seconds()
	man := &modeldir.Manifest{
		Kind:         Kind,
		File:         ModelFile,
		Labels:       stripLabels(m.Labels(), o.Args.Label),
		Normalizer:   norm,
		TrainingArgs: targs,
		TrainingData: refs,
		Fingerprint:  fingerprint,
		CodeVersion:  version.String(),
		CreatedAt:    time.Now().UTC(),
	}
	if err := modeldir.Write(o.Output, man); err != nil {
		return nil, err
	}
	logf(o.Log, "wrote %s (%d labels, %d words) in %s", filepath.Join(o.Output, ModelFile), len(man.Labels), m.NumWords(), elapsed.Round(time.Millisecond))
	return man, nil
}

// Existing returns the manifest of the model already in o.Output when it
// was trained with o.Args on training data with the same fingerprint, or
// nil: training again would only repeat the work (and, with several
// threads, give another model).
func Existing(ctx context.Context, o TrainOptions) (*modeldir.Manifest, error) {
	man, err := modeldir.Read(o.Output)
	if err != nil || man.Kind != Kind {
		return nil, nil // no model (or another kind) to keep
	}
	if _, err := os.Stat(man.ModelPath(o.Output)); err != nil {
		return nil, nil
	}
	sets, _, err := readDatasets(ctx, o.Datasets)
	if err != nil {
		return nil, err
	}
	total := sha256.New()
	for _, s := range sets {
		if _, _, err := hashFile(ctx, storage.Join(s.dir, ftdata.TrainName), total, nil); err != nil {
			return nil, err
		}
	}
	if hex.EncodeToString(total.Sum(nil)) != man.Fingerprint {
		return nil, nil
	}
	same, err := sameArgs(man.TrainingArgs, o.Args.Map())
	if err != nil || !same {
		return nil, err
	}
	return man, nil
}

// sameArgs compares recorded training arguments with new ones, as JSON
// (the recorded ones were read back from it), ignoring the time taken.
func sameArgs(recorded, args map[string]any) (bool, error) {
	var enc [2][]byte
	for i, m := range []map[string]any{recorded, args} {
		m = maps.Clone(m)
		delete(m, "training_seconds")
		b, err := json.Marshal(m)
		if err != nil {
			return false, fmt.Errorf("compare training arguments: %w", err)
		}
		enc[i] = b
	}
	return bytes.Equal(enc[0], enc[1]), nil
}

// combine returns a single training file: the only one, or a temporary
// concatenation (in dir) of several, each ending with a newline so that
// lines do not merge. It also hashes every file and the whole.
func combine(ctx context.Context, files []string, dir string) (path string, refs []modeldir.DataRef, fingerprint string, cleanup func(), err error) {
	cleanup = func() {}
	total := sha256.New()
	var out *os.File
	// Training reads a local file at byte offsets: several files, or one on
	// an object store, are copied into one local file first.
	if len(files) > 1 || !storage.IsLocal(files[0]) {
		out, err = os.CreateTemp(dir, ".train-combined-*.txt")
		if err != nil {
			return "", nil, "", cleanup, fmt.Errorf("concatenate training files: %w", err)
		}
		name := out.Name()
		cleanup = func() { os.Remove(name) }
		path = name
	} else {
		path = files[0]
	}
	var copyTo io.Writer // stays nil (not a nil *os.File) without concatenation
	if out != nil {
		copyTo = out
	}
	for _, f := range files {
		ref, last, err := hashFile(ctx, f, total, copyTo)
		if err != nil {
			if out != nil {
				out.Close()
			}
			cleanup()
			return "", nil, "", func() {}, err
		}
		if out != nil && last != '\n' && ref.Bytes > 0 {
			if _, err := out.Write([]byte{'\n'}); err != nil {
				out.Close()
				cleanup()
				return "", nil, "", func() {}, fmt.Errorf("concatenate training files: %w", err)
			}
		}
		refs = append(refs, ref)
	}
	if out != nil {
		if err := out.Close(); err != nil {
			cleanup()
			return "", nil, "", func() {}, fmt.Errorf("concatenate training files: %w", err)
		}
	}
	return path, refs, hex.EncodeToString(total.Sum(nil)), cleanup, nil
}

// hashFile hashes path into its own digest and total, copying it to copyTo
// when set, and returns its last byte.
func hashFile(ctx context.Context, path string, total io.Writer, copyTo io.Writer) (modeldir.DataRef, byte, error) {
	f, err := storage.Open(ctx, path)
	if err != nil {
		return modeldir.DataRef{}, 0, fmt.Errorf("read training data: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	w := io.MultiWriter(h, total)
	if copyTo != nil {
		w = io.MultiWriter(h, total, copyTo)
	}
	lw := &lastByte{w: w}
	n, err := io.Copy(lw, f)
	if err != nil {
		return modeldir.DataRef{}, 0, fmt.Errorf("read training data %s: %w", path, err)
	}
	abs := path
	if storage.IsLocal(path) {
		if a, err := filepath.Abs(path); err == nil {
			abs = a
		}
	}
	return modeldir.DataRef{Path: abs, Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, lw.last, nil
}

type lastByte struct {
	w    io.Writer
	last byte
}

func (l *lastByte) Write(p []byte) (int, error) {
	if len(p) > 0 {
		l.last = p[len(p)-1]
	}
	return l.w.Write(p)
}

func totalBytes(refs []modeldir.DataRef) int64 {
	var n int64
	for _, r := range refs {
		n += r.Bytes
	}
	return n
}

func stripLabels(labels []string, prefix string) []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = strings.TrimPrefix(l, prefix)
	}
	return out
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// lossWatch follows a training's loss to tell whether the model learned.
type lossWatch struct {
	start, end float64 // the loss at the start (0: unknown) and at the end
	labels     int
}

// wrap returns a ProgressFunc that records the loss and passes every report
// on to next (which may be nil).
func (w *lossWatch) wrap(loss fasttext.Loss, next fasttext.ProgressFunc) fasttext.ProgressFunc {
	return func(p fasttext.Progress) {
		switch {
		case p.Start:
			w.labels = p.Labels
			// A softmax over k labels that learned nothing loses ln k on
			// every example.
			if loss == fasttext.LossSoftmax && p.Labels > 1 {
				w.start = math.Log(float64(p.Labels))
			}
		case p.Loss > 0 && w.start == 0 && !p.Done:
			w.start = p.Loss
		}
		if p.Done {
			w.end = p.Loss
		}
		if next != nil {
			next(p)
		}
	}
}

// stuck describes a training whose average loss stayed within 5% of its
// starting value, or returns "".
func (w *lossWatch) stuck() string {
	if w.start <= 0 || w.end < 0.95*w.start {
		return ""
	}
	return fmt.Sprintf("the training loss stayed at its starting value (average %.4f, starting %.4f for %d labels): the model did not learn; "+
		"for a small dataset try more epochs, a higher learning rate or fewer dimensions (e.g. --epoch 25 --learning-rate 0.5 --dimension 32 --min-count 1)",
		w.end, w.start, w.labels)
}
