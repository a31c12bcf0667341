// Package traineval trains fastText classifiers on the data directories
// written by `winnow to-fasttext` and evaluates them, keeping the model, its
// manifest and its evaluation results together in a model directory (the
// work of `winnow train-fasttext` and `winnow eval-fasttext`).
package traineval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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
func readDatasets(ctx context.Context, dirs []string) ([]dataset, modeldir.Normalizer, error) {
	if len(dirs) == 0 {
		return nil, modeldir.Normalizer{}, errors.New("no data directory given (-d DIR, written by `winnow to-fasttext`)")
	}
	var out []dataset
	var norm modeldir.Normalizer
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

func describe(n modeldir.Normalizer) string {
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
	m, err := fasttext.Train(ctx, input, o.Args, o.Progress)
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
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
