// Package train is the train stage: it trains a text classifier of any kind
// winnow knows on prepared datasets and evaluates model directories.
//
// Every kind sits behind one shape: Train(ctx, Options) writes a model
// directory with a manifest.json (kind, labels or regression range,
// normalizer and version, tokenizer hash, base model and its hash, a
// fingerprint of the training data, the arguments, the backend and the
// metrics) that models.Load reads, so score, filter, eval and the flow work
// with every kind. The directory is built under a temporary name beside
// the output and renamed into place only when complete: a failed or killed
// run leaves the previous model, or nothing, never half a model.
//
// The kinds:
//
//   - fasttext: supervised fastText (pure Go, models/fasttext) on the
//     train.txt files that `winnow to-fasttext` writes;
//   - model2vec: a Model2Vec static embedding model (a pretrained one, or
//     one trained from scratch over a tokenizer's vocabulary) with an MLP
//     head trained on GoMLX, as a classifier or a regressor; the embedding
//     table is frozen (rows pooled once by a Beam step) or fine-tuned;
//   - contrastive: the same embeddings with a scalar score head trained by
//     a pairwise hinge loss within k-means clusters (bonepick's design);
//   - encoder: the FineWeb-Edu recipe on a BERT-family encoder (models/
//     encoder): the [CLS] state of every row computed once by a Beam step
//     with the encoder frozen, then the pooler (initialised from the
//     checkpoint) and a linear regression or classification layer trained
//     on GoMLX; the model directory is also a Hugging Face
//     BertForSequenceClassification directory.
//
// Several dataset directories are concatenated, as in bonepick.
package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/models/modeldir"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// Options configure Train. Exactly the options of the chosen kind are read.
type Options struct {
	// Kind is the model kind: one of Kinds().
	Kind string
	// Datasets are the training inputs, concatenated.
	Datasets []string
	// Output is the model directory (local) to create or replace.
	Output string
	// Log receives one-line status messages; it may be nil.
	Log io.Writer

	FastText FastTextOptions
	// Static configures the model2vec and contrastive kinds.
	Static StaticOptions
	// Encoder configures the encoder kind.
	Encoder EncoderOptions
}

// trainer trains one kind into dir, a fresh directory that becomes the
// model directory once training succeeds, and returns its manifest (which
// the trainer has not written: Train does).
type trainer func(ctx context.Context, o Options, dir string) (*modeldir.Manifest, error)

var trainers = map[string]trainer{}

// Kinds lists the kinds Train knows, sorted.
func Kinds() []string {
	ks := make([]string, 0, len(trainers))
	for k := range trainers {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Train trains a model of o.Kind and writes its model directory.
func Train(ctx context.Context, o Options) (_ *modeldir.Manifest, err error) {
	tr, ok := trainers[o.Kind]
	if !ok {
		return nil, fmt.Errorf("unknown model kind %q (known: %s)", o.Kind, strings.Join(Kinds(), ", "))
	}
	if len(o.Datasets) == 0 {
		return nil, errors.New("no training data given")
	}
	if o.Output == "" {
		return nil, errors.New("no model directory given")
	}
	ctx, release, err := claimModelDir(ctx, o.Output, o.Datasets, "train --kind "+o.Kind, o.Log)
	if err != nil {
		return nil, err
	}
	defer release()
	if st, err := os.Stat(o.Output); err == nil && st.IsDir() {
		if err := checkReplaceable(o.Output); err != nil {
			return nil, err // before any work
		}
	}
	dir, err := newModelDir(o.Output)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir) // nothing left once committed
	// The base models the trainer embedded with are not needed once it is
	// done; whoever evaluates or scores next loads the trained model.
	defer models.ReleaseEmbedders()
	man, err := tr(ctx, o, dir)
	if err != nil {
		return nil, err
	}
	if err := modeldir.Write(dir, man); err != nil {
		return nil, err
	}
	if err := commitModelDir(dir, o.Output); err != nil {
		return nil, err
	}
	return man, nil
}

// claimModelDir checks that the model directory dir stays apart from the
// data it is trained or evaluated on, and takes its lock, so that no other
// run writes it at the same time. The lock lives beside dir, in
// .<name>.lock, since training replaces dir itself by a rename. The
// returned context is cancelled should another run take the lock over.
func claimModelDir(ctx context.Context, dir string, data []string, command string, log io.Writer) (context.Context, func(), error) {
	if !storage.IsLocal(dir) {
		return nil, nil, fmt.Errorf("model directory %s: model directories are local", dir)
	}
	if err := storage.CheckApart(ctx, dir, data); err != nil {
		return nil, nil, err
	}
	dir = filepath.Clean(dir)
	ctx, cancel := context.WithCancelCause(ctx)
	lockDir := filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".lock")
	lock, err := storage.LockDir(ctx, lockDir, storage.LockOptions{Command: "winnow " + command, Log: log, Lost: cancel})
	if err != nil {
		cancel(err)
		return nil, nil, err
	}
	return ctx, func() {
		_ = lock.Release(ctx)
		cancel(nil)
	}, nil
}

// newModelDir creates the temporary directory a model is built in, beside
// final so that committing it is a rename. Directories left by killed runs
// are removed first.
func newModelDir(final string) (string, error) {
	final = filepath.Clean(final)
	parent := filepath.Dir(final)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("create model directory: %w", err)
	}
	stale, _ := filepath.Glob(filepath.Join(parent, "."+filepath.Base(final)+".tmp-*"))
	for _, s := range stale {
		os.RemoveAll(s)
	}
	dir, err := os.MkdirTemp(parent, "."+filepath.Base(final)+".tmp-")
	if err != nil {
		return "", fmt.Errorf("create model directory: %w", err)
	}
	return dir, nil
}

// commitModelDir puts the finished directory dir in final's place. A
// previous model at final is moved aside first and removed once the new
// one is in place; final must be a model directory or absent, never a
// directory of other files.
func commitModelDir(dir, final string) error {
	final = filepath.Clean(final)
	st, err := os.Stat(final)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.Rename(dir, final); err != nil {
			return fmt.Errorf("commit model directory %s: %w", final, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("commit model directory %s: %w", final, err)
	case !st.IsDir():
		return fmt.Errorf("model directory %s exists and is not a directory", final)
	}
	if err := checkReplaceable(final); err != nil {
		return err
	}
	old := dir + ".old"
	if err := os.Rename(final, old); err != nil {
		return fmt.Errorf("commit model directory %s: %w", final, err)
	}
	if err := os.Rename(dir, final); err != nil {
		os.Rename(old, final) // put the previous model back
		return fmt.Errorf("commit model directory %s: %w", final, err)
	}
	return os.RemoveAll(old)
}

// checkReplaceable refuses to replace a directory that is not a model
// directory (has files but no manifest): it may be a user's data.
func checkReplaceable(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, modeldir.ManifestName)); err != nil {
		return fmt.Errorf("%s exists and is not a model directory (no %s): refusing to replace it", dir, modeldir.ManifestName)
	}
	return nil
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
