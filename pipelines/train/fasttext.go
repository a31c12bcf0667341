package train

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
	"strings"
	"time"

	"github.com/winnowlabs/winnow/internal/version"
	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/models/fasttext"
	"github.com/winnowlabs/winnow/models/modeldir"
	"github.com/winnowlabs/winnow/transforms/ftdata"
	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// FastTextModelFile is the model's file name inside a fastText model
// directory.
const FastTextModelFile = "model.bin"

// FastTextOptions configure the fastText kind. Its datasets are
// directories written by `winnow to-fasttext`; training uses the
// concatenation of their train.txt files.
type FastTextOptions struct {
	// Args are fastText's training arguments (see fasttext.ClassifierArgs
	// for winnow's defaults).
	Args fasttext.Args
	// Progress receives training progress; it may be nil.
	Progress fasttext.ProgressFunc
}

// ftDataset is one to-fasttext directory with its report.
type ftDataset struct {
	dir    string
	report *ftdata.Report
}

// readDatasets loads the reports of dirs and checks that they agree on the
// normalizer, which the model will record.
func readDatasets(ctx context.Context, dirs []string) ([]ftDataset, normalize.Spec, error) {
	if len(dirs) == 0 {
		return nil, normalize.Spec{}, errors.New("no fastText data directory given (written by `winnow to-fasttext`)")
	}
	var out []ftDataset
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
		out = append(out, ftDataset{dir: d, report: r})
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

func init() { trainers[models.KindFastText] = trainFastText }

// trainFastText trains a fastText model on the datasets' training files into
// dir: model.bin and a manifest with the labels, normalizer, training
// arguments and a fingerprint of the training data.
func trainFastText(ctx context.Context, o Options, dir string) (*modeldir.Manifest, error) {
	sets, norm, err := readDatasets(ctx, o.Datasets)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, s := range sets {
		p := storage.Join(s.dir, ftdata.TrainName)
		if ok, err := storage.Exists(ctx, p); err != nil || !ok {
			return nil, fmt.Errorf("data directory %s has no %s (%v)", s.dir, ftdata.TrainName, err)
		}
		files = append(files, p)
	}
	input, refs, fingerprint, cleanup, err := combine(ctx, files, dir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	args := o.FastText.Args
	logf(o.Log, "training on %d file(s), %d bytes, fingerprint %s", len(refs), totalBytes(refs), fingerprint[:12])
	start := time.Now()
	var watch lossWatch
	m, err := fasttext.Train(ctx, input, args, watch.wrap(args.Loss, o.FastText.Progress))
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	if msg := watch.stuck(); msg != "" {
		logf(o.Log, "warning: %s", msg)
	}
	if err := m.Save(filepath.Join(dir, FastTextModelFile)); err != nil {
		return nil, err
	}
	targs := args.Map()
	targs["training_seconds"] = elapsed.Seconds()
	logf(o.Log, "trained %d labels, %d words in %s", len(m.Labels()), m.NumWords(), elapsed.Round(time.Millisecond))
	return &modeldir.Manifest{
		Kind:         models.KindFastText,
		File:         FastTextModelFile,
		Labels:       stripLabels(m.Labels(), args.Label),
		Normalizer:   norm,
		TrainingArgs: targs,
		TrainingData: refs,
		Fingerprint:  fingerprint,
		Backend:      "native",
		CodeVersion:  version.String(),
		CreatedAt:    time.Now().UTC(),
	}, nil
}

// Existing returns the manifest of the fastText model already in o.Output
// when it was trained with o.FastText.Args on training data with the same
// fingerprint, or nil: training again would only repeat the work (and, with
// several threads, give another model).
func Existing(ctx context.Context, o Options) (*modeldir.Manifest, error) {
	if o.Kind != models.KindFastText {
		return nil, fmt.Errorf("existing models are recognised for the fastText kind only, not %q", o.Kind)
	}
	man, err := modeldir.Read(o.Output)
	if err != nil || man.Kind != models.KindFastText {
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
	same, err := sameArgs(man.TrainingArgs, o.FastText.Args.Map())
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
		"for a small dataset try more epochs, a higher learning rate or fewer dimensions (e.g. 25 epochs, learning rate 0.5, 32 dimensions, minimum count 1)",
		w.end, w.start, w.labels)
}
