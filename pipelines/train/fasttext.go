package train

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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
	m, err := fasttext.Train(ctx, input, args, o.FastText.Progress)
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
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
