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
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gomlx/compute"

	"github.com/winnowlabs/winnow/internal/version"
	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/models/gomlxbackend"
	"github.com/winnowlabs/winnow/models/head"
	"github.com/winnowlabs/winnow/models/model2vec"
	"github.com/winnowlabs/winnow/models/modeldir"
	"github.com/winnowlabs/winnow/transforms/dataset"
	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/normalize/hftok"
	"github.com/winnowlabs/winnow/transforms/progress"
	"github.com/winnowlabs/winnow/transforms/rows"
)

// StaticOptions configure the model2vec and contrastive kinds: a head on a
// Model2Vec model's pooled embeddings. Their datasets are directories of
// JSON rows with train/ (and optionally valid/ and test/) splits.
type StaticOptions struct {
	// Base is the Model2Vec model directory training starts from.
	Base string
	// FromScratch trains a randomly initialised table of Dim dimensions over
	// the vocabulary of Tokenizer (a tokenizer.json) instead of a base
	// model; the table always trains with the head then.
	FromScratch bool
	Tokenizer   string
	Dim         int
	// Finetune trains the embedding table and the per-token weights with
	// the head (model2vec's default). Otherwise the table is frozen: every
	// row is pooled once by a Beam step (kept in FeaturesDir) and only the
	// head trains.
	Finetune bool
	// Regression trains a regressor of numeric labels (MSE) instead of a
	// classifier (model2vec kind only).
	Regression bool
	// Fields select each row's text and label.
	Fields Fields
	// Normalizer, when set, normalizes texts before they are embedded;
	// score and filter apply it too. NormalizerTokenizer is the
	// tokenizer.json of tokenizer-based normalizers.
	Normalizer          string
	NormalizerTokenizer string
	// Hidden are the head's hidden layer widths (default one of 512).
	Hidden []int
	// Head tunes training (learning rate, batch size, epochs, patience,
	// class weights, seed, margin, clusters ...).
	Head head.Options
	// Backend is the GoMLX backend spec (default "go").
	Backend string
	// FeaturesDir holds the pooled rows of the frozen mode (default: the
	// model directory's path with ".features" appended).
	FeaturesDir string
	// Progress receives progress lines of the Beam step (nil: stderr);
	// Quiet silences them.
	Progress io.Writer
	Quiet    bool
}

func init() {
	trainers[models.KindModel2Vec] = trainStatic
	trainers[models.KindContrastive] = trainStatic
}

// trainStatic trains a head (and, fine-tuning, the embeddings) into dir:
// the Model2Vec model in dir/embeddings, the head's files beside the
// manifest.
func trainStatic(ctx context.Context, o Options, dir string) (*modeldir.Manifest, error) {
	so := o.Static
	task := head.Classification
	switch {
	case o.Kind == models.KindContrastive:
		task = head.Ranking
		if so.Finetune || so.FromScratch {
			return nil, errors.New("contrastive training ranks pooled embeddings of a base model: fine-tuning the embeddings and training from scratch do not apply")
		}
		if so.Regression {
			return nil, errors.New("contrastive training ranks by numeric labels already: a regression head does not apply")
		}
	case so.Regression:
		task = head.Regression
	}
	if so.FromScratch {
		so.Finetune = true
		if so.Tokenizer == "" || so.Dim <= 0 {
			return nil, errors.New("training from scratch needs a tokenizer.json and a dimension")
		}
		if so.Base != "" {
			return nil, errors.New("give either a base model or training from scratch, not both")
		}
	} else if so.Base == "" {
		return nil, errors.New("no base model given (a Model2Vec directory), and not training from scratch")
	}
	splits, backend, backendSpec, err := prepareHead(ctx, o.Datasets, so.Backend)
	if err != nil {
		return nil, err
	}
	var norm normalize.Normalizer
	var normSpec normalize.Spec
	if so.Normalizer != "" {
		if norm, err = normalize.New(so.Normalizer, normalize.Options{Tokenizer: so.NormalizerTokenizer}); err != nil {
			return nil, err
		}
		normSpec = normalize.Describe(norm)
	}
	opts := so.Head
	opts.Progress = epochLogger(o.Log)

	var (
		h        *head.Head
		emb      *model2vec.Model
		refs     []modeldir.DataRef
		print    string
		base     *modeldir.BaseRef
		mode     string
		started  = time.Now()
		baseInfo models.Embedder
	)
	if !so.FromScratch {
		// A Hub name (hf://OWNER/NAME or OWNER/NAME) is fetched into the
		// Hub cache; the manifest records the name as given.
		given := so.Base
		if so.Base, err = models.ResolvePath(ctx, so.Base); err != nil {
			return nil, fmt.Errorf("base model: %w", err)
		}
		if baseInfo, err = models.SharedEmbedder(ctx, so.Base, "", models.EmbedderOptions{}); err != nil {
			return nil, fmt.Errorf("base model: %w", err)
		}
		if baseInfo.Info().Kind != models.KindEmbeddingModel2Vec {
			return nil, fmt.Errorf("base model %s is a %s model, not a Model2Vec one", so.Base, baseInfo.Info().Kind)
		}
		base = &modeldir.BaseRef{Path: given, SHA256: baseInfo.Info().SHA256}
		if emb, err = model2vec.Load(so.Base); err != nil {
			return nil, fmt.Errorf("base model: %w", err)
		}
	}
	if so.Finetune {
		mode = "finetune"
		h, emb, refs, print, err = finetuneStatic(ctx, o, so, task, backend, emb, norm, splits, opts)
	} else {
		mode = "frozen"
		h, refs, print, err = trainFrozen(ctx, o, frozen{
			featuresDir: so.FeaturesDir, progress: so.Progress, quiet: so.Quiet,
			embed:    EmbedArgs{Model: so.Base, SHA256: baseInfo.Info().SHA256, Normalizer: normSpec, Fields: so.Fields},
			dim:      baseInfo.Info().Dim,
			labeller: func(train []string) (*labeller, error) { return newLabeller(task, train) },
			config: func(classes int) head.Config {
				return headConfig(task, baseInfo.Info().Dim, classes, so.Hidden)
			},
			opts: opts,
		}, backend, splits)
	}
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(started)
	if err := emb.Save(filepath.Join(dir, models.StaticEmbeddingsDir)); err != nil {
		return nil, err
	}
	if err := h.Save(ctx, dir); err != nil {
		return nil, err
	}
	files, err := listFiles(dir)
	if err != nil {
		return nil, err
	}
	args := map[string]any{
		"mode": mode, "task": string(task), "hidden": h.Config.Hidden, "activation": string(h.Config.Activation),
		"learning_rate": h.Training.Options.LearningRate, "batch_size": h.Training.Options.BatchSize,
		"max_epochs": h.Training.Options.MaxEpochs, "early_stopping_patience": h.Training.Options.Patience,
		"metric": string(h.Training.Options.Metric), "class_weight": string(h.Training.Options.ClassWeight),
		"seed": h.Training.Options.Seed, "best_epoch": h.Training.BestEpoch, "epochs": len(h.Training.History),
		"stopped": h.Training.Stopped, "training_seconds": elapsed.Seconds(),
		"text_expression": so.Fields.withDefaults().TextExpression, "label_expression": so.Fields.withDefaults().LabelExpression,
	}
	if so.FromScratch {
		args["from_scratch"], args["dim"] = true, so.Dim
	}
	if task == head.Ranking {
		args["margin"], args["clusters"] = h.Training.Options.Margin, h.Training.Clusters
	}
	man := &modeldir.Manifest{
		Kind: o.Kind, File: head.WeightsFile, Files: files, Task: string(task), Labels: h.Labels, Range: h.Range,
		Normalizer: normSpec, TokenizerHash: emb.TokenizerHash(), Base: base,
		TrainingArgs: args, TrainingData: refs, Fingerprint: print, Backend: backendSpec,
		CodeVersion: version.String(), CreatedAt: time.Now().UTC(),
	}
	if task != head.Classification {
		man.Labels = nil
	}
	last := h.Training.History[len(h.Training.History)-1]
	logf(o.Log, "trained a %s %s head (%s) in %s: %d epochs, best %d (%s), valid %s %.4g",
		o.Kind, task, mode, elapsed.Round(time.Millisecond), last.Epoch, h.Training.BestEpoch, h.Training.Stopped,
		h.Training.Options.Metric, float64(bestEpoch(h).Metric))
	return man, nil
}

// prepareHead finds the splits of the datasets, which must have a train
// split, and opens the GoMLX backend of spec (default "go") that a head
// trains on; it returns the spec with its default filled in.
func prepareHead(ctx context.Context, datasets []string, spec string) (map[string][]dataset.File, compute.Backend, string, error) {
	splits, err := discoverSplits(ctx, datasets)
	if err != nil {
		return nil, nil, "", err
	}
	if len(splits["train"]) == 0 {
		return nil, nil, "", fmt.Errorf("no train split in %s", strings.Join(datasets, ", "))
	}
	if spec == "" {
		spec = gomlxbackend.Default
	}
	backend, err := gomlxbackend.Open(spec)
	if err != nil {
		return nil, nil, "", err
	}
	return splits, backend, spec, nil
}

func bestEpoch(h *head.Head) head.Epoch {
	for _, e := range h.Training.History {
		if e.Epoch == h.Training.BestEpoch {
			return e
		}
	}
	return h.Training.History[len(h.Training.History)-1]
}

// frozen describes a head trained on the features of a frozen embedding
// model.
type frozen struct {
	// featuresDir keeps the features (default: the model directory's path
	// with ".features" appended); progress and quiet direct the Beam
	// step's progress lines.
	featuresDir string
	progress    io.Writer
	quiet       bool
	embed       EmbedArgs
	dim         int
	// labeller makes the labeller of the training labels; config the
	// head's shape for its number of classes.
	labeller func(train []string) (*labeller, error)
	config   func(classes int) head.Config
	opts     head.Options
}

// trainFrozen embeds every row once with a Beam step (reusing the features
// of an earlier run with the same model and fields) and trains the head on
// the features.
func trainFrozen(ctx context.Context, o Options, f frozen, backend compute.Backend, splits map[string][]dataset.File) (*head.Head, []modeldir.DataRef, string, error) {
	featuresDir, err := featuresDirFor(f.featuresDir, o.Output)
	if err != nil {
		return nil, nil, "", err
	}
	embed := f.embed
	if embed.Model, err = workerModel(ctx, f.embed.Model, f.embed.SHA256, featuresDir); err != nil {
		return nil, nil, "", err
	}
	logf(o.Log, "embedding the rows with %s into %s", embed.Model, featuresDir)
	m, err := computeFeatures(ctx, FeatureOptions{
		Datasets: o.Datasets, Dir: featuresDir, Progress: f.progress, Quiet: f.quiet, Embed: embed,
	})
	if err != nil {
		return nil, nil, "", err
	}
	by, err := readFeatures(ctx, m, f.dim)
	if err != nil {
		return nil, nil, "", err
	}
	train, valid := by["train"], by["valid"]
	if train == nil || train.n() == 0 {
		return nil, nil, "", errors.New("the train split has no rows")
	}
	lab, err := f.labeller(train.labels)
	if err != nil {
		return nil, nil, "", err
	}
	trainSet, err := lab.dataset(train.x, train.labels, "train")
	if err != nil {
		return nil, nil, "", err
	}
	var validSet head.Dataset
	if valid != nil {
		if validSet, err = lab.dataset(valid.x, valid.labels, "valid"); err != nil {
			return nil, nil, "", err
		}
	}
	cfg := f.config(len(lab.labels))
	opts := f.opts
	opts.Labels = lab.labels
	logf(o.Log, "training the head on %d rows (%d valid) on the %s backend", train.n(), validRows(valid), backend.Name())
	h, err := head.Train(ctx, backend, cfg, trainSet, validSet, opts)
	if err != nil {
		return nil, nil, "", err
	}
	refs, print, err := hashSplits(ctx, splits, "train", "valid")
	if err != nil {
		return nil, nil, "", err
	}
	return h, refs, print, nil
}

func validRows(f *features) int {
	if f == nil {
		return 0
	}
	return f.n()
}

// finetuneStatic trains the head together with the embedding table and the
// per-token weights, on token ids the driver computes (in parallel), and
// returns the head and the trained Model2Vec model.
func finetuneStatic(ctx context.Context, o Options, so StaticOptions, task head.Task, backend compute.Backend,
	base *model2vec.Model, norm normalize.Normalizer, splits map[string][]dataset.File, opts head.Options) (*head.Head, *model2vec.Model, []modeldir.DataRef, string, error) {
	var emb *head.Embeddings
	tokenizer := so.Tokenizer
	if so.FromScratch {
		// A model over the tokenizer's vocabulary, to tokenize with; its table
		// is the random initialisation.
		tok, err := hftok.Load(so.Tokenizer)
		if err != nil {
			return nil, nil, nil, "", err
		}
		emb = head.RandomEmbeddings(tok.VocabSize(), so.Dim, opts.Seed)
		if base, err = model2vec.New(so.Tokenizer, emb.Table, so.Dim, nil, emb.Normalize); err != nil {
			return nil, nil, nil, "", err
		}
	} else {
		tokenizer = base.Tokenizer().Path()
		emb = &head.Embeddings{Vocab: base.VocabSize(), Dim: base.Dim(), Table: base.DenseTable(), Weights: base.Weights(), Normalize: base.Normalize()}
	}
	read := func(name string) (*splitData, error) {
		if len(splits[name]) == 0 {
			return nil, nil
		}
		return readSplit(ctx, name, splits[name], so.Fields)
	}
	train, err := read("train")
	if err != nil {
		return nil, nil, nil, "", err
	}
	valid, err := read("valid")
	if err != nil {
		return nil, nil, nil, "", err
	}
	lab, err := newLabeller(task, labelsOf(train.examples))
	if err != nil {
		return nil, nil, nil, "", err
	}
	tokens := func(sd *splitData) (head.TokenDataset, error) {
		var ds head.TokenDataset
		if sd == nil {
			return ds, nil
		}
		ids, err := tokenizeAll(ctx, base, norm, sd.examples)
		if err != nil {
			return ds, err
		}
		set, err := lab.dataset(nil, labelsOf(sd.examples), sd.name)
		if err != nil {
			return ds, err
		}
		return head.TokenDataset{IDs: ids, Classes: set.Classes, Targets: set.Targets}, nil
	}
	trainSet, err := tokens(train)
	if err != nil {
		return nil, nil, nil, "", err
	}
	validSet, err := tokens(valid)
	if err != nil {
		return nil, nil, nil, "", err
	}
	cfg := headConfig(task, emb.Dim, len(lab.labels), so.Hidden)
	opts.Labels = lab.labels
	logf(o.Log, "fine-tuning the embeddings (%d × %d) and the head on %d rows (%d valid) on the %s backend",
		emb.Vocab, emb.Dim, len(train.examples), len(validSet.IDs), backend.Name())
	h, trained, err := head.Finetune(ctx, backend, cfg, *emb, trainSet, validSet, opts)
	if err != nil {
		return nil, nil, nil, "", err
	}
	m, err := model2vec.New(tokenizer, trained.Table, trained.Dim, trained.Weights, trained.Normalize)
	if err != nil {
		return nil, nil, nil, "", err
	}
	refs, print := dataRefs(train, valid)
	return h, m, refs, print, nil
}

// tokenizeAll returns the ids the model pools for each example's text
// (normalized first), computed on every core.
func tokenizeAll(ctx context.Context, m *model2vec.Model, norm normalize.Normalizer, ex []example) ([][]int32, error) {
	ids := make([][]int32, len(ex))
	g, ctx := errgroup.WithContext(ctx)
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		g.Go(func() error {
			for i := w; i < len(ex); i += workers {
				if i%1024 == w && ctx.Err() != nil {
					return ctx.Err()
				}
				text := ex[i].text
				if norm != nil {
					text = norm.Normalize(text)
				}
				ids[i] = m.Tokenize(nil, text)
			}
			return nil
		})
	}
	return ids, g.Wait()
}

func labelsOf(ex []example) []string {
	out := make([]string, len(ex))
	for i, e := range ex {
		out[i] = e.label
	}
	return out
}

// headConfig is model2vec's head shape for the task, with the given hidden
// layers when set.
func headConfig(task head.Task, dim, classes int, hidden []int) head.Config {
	cfg := head.NewConfig(task, dim, classes)
	if hidden != nil {
		cfg.Hidden = hidden
	}
	return cfg
}

// labeller turns label texts into a head's classes or targets.
type labeller struct {
	task   head.Task
	labels []string // classification: the classes, in output order
	index  map[string]int
}

// newLabeller takes the classes from the training labels: sorted
// numerically when they are all numbers, else as strings. Regression and
// ranking need numeric labels.
func newLabeller(task head.Task, train []string) (*labeller, error) {
	l := &labeller{task: task}
	if task != head.Classification {
		return l, nil
	}
	seen := map[string]bool{}
	for _, s := range train {
		if !seen[s] {
			seen[s] = true
			l.labels = append(l.labels, s)
		}
	}
	if len(l.labels) < 2 {
		return nil, fmt.Errorf("the train split has %d distinct label(s) %v: a classifier needs at least 2", len(l.labels), l.labels)
	}
	numeric := true
	for _, s := range l.labels {
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			numeric = false
		}
	}
	if numeric {
		sort.Slice(l.labels, func(i, j int) bool {
			a, _ := strconv.ParseFloat(l.labels[i], 64)
			b, _ := strconv.ParseFloat(l.labels[j], 64)
			return a < b
		})
	} else {
		slices.Sort(l.labels)
	}
	l.index = map[string]int{}
	for i, s := range l.labels {
		l.index[s] = i
	}
	return l, nil
}

// dataset builds a head dataset of x with the given labels of split.
func (l *labeller) dataset(x []float32, labels []string, split string) (head.Dataset, error) {
	ds := head.Dataset{X: x}
	for i, s := range labels {
		if l.task == head.Classification {
			c, ok := l.index[s]
			if !ok {
				return ds, fmt.Errorf("row %d of the %s split has label %q, never seen in the train split (%s)", i+1, split, s, strings.Join(l.labels, ", "))
			}
			ds.Classes = append(ds.Classes, c)
			continue
		}
		v, err := numericLabel(s)
		if err != nil {
			return ds, fmt.Errorf("row %d of the %s split: %w", i+1, split, err)
		}
		ds.Targets = append(ds.Targets, float32(v))
	}
	return ds, nil
}

// hashSplits hashes the files of the named splits.
func hashSplits(ctx context.Context, splits map[string][]dataset.File, names ...string) ([]modeldir.DataRef, string, error) {
	var sds []*splitData
	for _, name := range names {
		files := splits[name]
		if len(files) == 0 {
			continue
		}
		sd := &splitData{name: name}
		total := sha256.New()
		for _, f := range files {
			h := sha256.New()
			n, err := eachRow(ctx, f.Path, h, func(*rows.Row) error { return nil })
			if err != nil {
				return nil, "", err
			}
			sum := hex.EncodeToString(h.Sum(nil))
			fmt.Fprintf(total, "%s %s\n", f.Rel, sum)
			sd.files = append(sd.files, modeldir.DataRef{Path: f.Path, Bytes: n, SHA256: sum})
		}
		sd.fingerprint = hex.EncodeToString(total.Sum(nil))
		sds = append(sds, sd)
	}
	refs, print := dataRefs(sds...)
	return refs, print, nil
}

// listFiles lists the files under dir, relative to it with forward
// slashes, sorted.
func listFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	sort.Strings(out)
	return out, nil
}

// epochLogger prints one line per epoch to w.
func epochLogger(w io.Writer) func(head.Epoch) {
	if w == nil {
		return nil
	}
	return func(e head.Epoch) {
		eta := ""
		if e.ETA > 0 {
			eta = ", ETA " + e.ETA.Round(time.Second).String()
		}
		best := ""
		if e.Best {
			best = " *"
		}
		skipped := ""
		if e.SkippedBatches > 0 {
			skipped = fmt.Sprintf(", %d batches without a pair skipped", e.SkippedBatches)
		}
		fmt.Fprintf(w, "epoch %3d  train loss %.4f  valid loss %.4f  metric %.4f  lr %.2g  %s rows/s%s%s%s\n",
			e.Epoch, float64(e.TrainLoss), float64(e.ValidLoss), float64(e.Metric), e.LearningRate,
			progress.Count(int64(e.RowsPerSecond)), skipped, eta, best)
	}
}
