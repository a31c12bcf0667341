package train

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/winnowlabs/winnow/internal/version"
	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/models/encoder"
	"github.com/winnowlabs/winnow/models/head"
	"github.com/winnowlabs/winnow/models/modeldir"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// EncoderOptions configure the encoder kind: the FineWeb-Edu recipe (a
// BERT pooler and a linear layer trained on an encoder's frozen [CLS]
// states). Datasets are directories of JSON rows with train/ (and
// optionally valid/ and test/) splits.
type EncoderOptions struct {
	// Base is the encoder training starts from: a local Hugging Face BERT
	// directory (BertModel, e.g. a sentence-transformers model such as
	// Snowflake/snowflake-arctic-embed-m, or BertForSequenceClassification)
	// or a Hub name (hf://OWNER/NAME).
	Base string
	// Fields select each row's text and label.
	Fields Fields
	// NumLabels, when at least 2, trains a classifier of that many labels
	// (cross-entropy) instead of a regressor of numeric labels (MSE).
	NumLabels int
	// Range is a regressor's score range, which int_score is clipped to
	// (default models.DefaultEncoderRange, 0 to 5).
	Range *[2]float64
	// Head tunes training. Its zero fields take the recipe's values:
	// learning rate 3e-4, batch size 256, 20 epochs, the best epoch by
	// macro-F1 (of the rounded predictions, for a regressor), no early
	// stopping, and the learning rate decaying linearly to 0 unless
	// ConstantRate.
	Head         head.Options
	ConstantRate bool
	// Backend is the GoMLX backend spec (default "go") of both the encoder's
	// forward pass and the head's training; BatchSize and MaxLength tune
	// the forward pass as in models.LoadOptions.
	Backend   string
	BatchSize int
	MaxLength int
	// FeaturesDir holds the [CLS] states of the rows (default: the model
	// directory's path with ".features" appended); a later run with the
	// same base, fields and forward-pass options reuses them.
	FeaturesDir string
	// Progress receives progress lines of the Beam step (nil: stderr);
	// Quiet silences them.
	Progress io.Writer
	Quiet    bool
}

// The FineWeb-Edu recipe's training settings (huggingface/cosmopedia
// classification/train_edu_bert.py, transformers' Trainer defaults).
const (
	EncoderLearningRate = 3e-4
	EncoderBatchSize    = 256
	EncoderEpochs       = 20
)

func init() {
	trainers[models.KindEncoder] = trainEncoder
}

// trainEncoder trains a pooler and a classification or regression layer on
// the base encoder's frozen [CLS] states and writes dir in the layout of
// transformers' BertForSequenceClassification (config.json,
// model.safetensors, tokenizer files), which the manifest makes a winnow
// model directory too.
func trainEncoder(ctx context.Context, o Options, dir string) (*modeldir.Manifest, error) {
	eo := o.Encoder
	if eo.Base == "" {
		return nil, errors.New("no base model given (a Hugging Face BERT directory)")
	}
	if eo.NumLabels == 1 || eo.NumLabels < 0 {
		return nil, fmt.Errorf("%d labels: give at least 2 for a classifier, or none for a regressor", eo.NumLabels)
	}
	task := head.Regression
	if eo.NumLabels >= 2 {
		task = head.Classification
		if eo.Range != nil {
			return nil, errors.New("a score range applies to a regressor, not a classifier")
		}
	}
	rng := models.DefaultEncoderRange
	if eo.Range != nil {
		rng = *eo.Range
		if !(rng[0] < rng[1]) || math.IsInf(rng[0], 0) || math.IsInf(rng[1], 0) {
			return nil, fmt.Errorf("score range %v to %v is not an interval", rng[0], rng[1])
		}
	}
	splits, backend, backendSpec, err := prepareHead(ctx, o.Datasets, eo.Backend)
	if err != nil {
		return nil, err
	}
	// A Hub name is fetched into the Hub cache; the manifest records the
	// name as given.
	given := eo.Base
	if eo.Base, err = models.ResolvePath(ctx, eo.Base); err != nil {
		return nil, fmt.Errorf("base model: %w", err)
	}
	if !storage.IsLocal(eo.Base) {
		return nil, fmt.Errorf("base model %s: an encoder base is read from a local directory or the Hugging Face Hub", eo.Base)
	}
	embed := models.EmbedderOptions{Pooling: models.PoolingCLS, Backend: backendSpec, BatchSize: eo.BatchSize, MaxLength: eo.MaxLength}
	baseEmb, err := models.SharedEmbedder(ctx, eo.Base, "", embed)
	if err != nil {
		return nil, fmt.Errorf("base model: %w", err)
	}
	enc := models.EncoderOf(baseEmb)
	if enc == nil {
		return nil, fmt.Errorf("base model %s is a %s model, not a BERT encoder", eo.Base, baseEmb.Info().Kind)
	}
	hidden := enc.Config().HiddenSize

	opts := eo.Head
	opts.LearningRate = cmp.Or(opts.LearningRate, EncoderLearningRate)
	opts.BatchSize = cmp.Or(opts.BatchSize, EncoderBatchSize)
	opts.MaxEpochs = cmp.Or(opts.MaxEpochs, EncoderEpochs)
	opts.Metric = cmp.Or(opts.Metric, head.MacroF1)
	opts.Patience = cmp.Or(opts.Patience, -1)
	opts.LinearDecay, opts.NoPlateau = !eo.ConstantRate, true
	if task == head.Regression {
		opts.Range = &rng
	}
	if p := enc.Pooler(); p != nil {
		opts.Init = []*head.Layer{{In: p.In, Out: p.Out, W: p.Weight, B: p.Bias}}
	}
	opts.Progress = epochLogger(o.Log)

	started := time.Now()
	h, refs, print, err := trainFrozen(ctx, o, frozen{
		featuresDir: eo.FeaturesDir, progress: eo.Progress, quiet: eo.Quiet,
		embed: EmbedArgs{Model: eo.Base, SHA256: baseEmb.Info().SHA256, Fields: eo.Fields, Embedder: embed},
		dim:   hidden,
		labeller: func(train []string) (*labeller, error) {
			if task == head.Regression {
				return &labeller{task: task}, nil
			}
			return classLabeller(eo.NumLabels, train)
		},
		config: func(classes int) head.Config {
			return head.Config{InputDim: hidden, Hidden: []int{hidden}, Activation: head.Tanh, Outputs: max(classes, 1), Task: task}
		},
		opts: opts,
	}, backend, splits)
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(started)

	pooler, classifier := h.Layers[0], h.Layers[1]
	eh := encoder.Head{
		Pooler:      &encoder.Linear{Weight: pooler.W, Bias: pooler.B, Out: pooler.Out, In: pooler.In},
		Classifier:  encoder.Linear{Weight: classifier.W, Bias: classifier.B, Out: classifier.Out, In: classifier.In},
		ProblemType: encoder.ProblemRegression,
	}
	if task == head.Classification {
		eh.Labels, eh.ProblemType = h.Labels, encoder.ProblemSingleLabel
	}
	if err := encoder.Export(eo.Base, dir, eh); err != nil {
		return nil, err
	}
	files, err := listFiles(dir)
	if err != nil {
		return nil, err
	}
	rec := h.Training
	best := bestEpoch(h)
	args := map[string]any{
		"mode": "frozen", "task": string(task), "pooling": models.PoolingCLS, "head": "pooler (dense, tanh) + linear",
		"learning_rate": rec.Options.LearningRate, "lr_schedule": map[bool]string{true: "linear decay", false: "constant"}[opts.LinearDecay],
		"weight_decay": rec.Options.WeightDecay, "batch_size": rec.Options.BatchSize, "epochs": len(rec.History),
		"metric": string(rec.Options.Metric), "seed": rec.Options.Seed, "best_epoch": rec.BestEpoch,
		"pooler_from_base": enc.Pooler() != nil, "max_length": enc.MaxLength(), "training_seconds": elapsed.Seconds(),
		"text_expression": eo.Fields.withDefaults().TextExpression, "label_expression": eo.Fields.withDefaults().LabelExpression,
		"history": rec.History,
	}
	man := &modeldir.Manifest{
		Kind: models.KindEncoder, File: "model.safetensors", Files: files, Task: string(task), Labels: h.Labels,
		TokenizerHash: enc.Tokenizer().Hash(), Base: &modeldir.BaseRef{Path: given, SHA256: baseEmb.Info().SHA256},
		TrainingArgs: args, TrainingData: refs, Fingerprint: print, Backend: backendSpec,
		Metrics:     map[string]any{"valid": map[string]any{string(rec.Options.Metric): float64(best.Metric), "loss": float64(best.ValidLoss), "epoch": best.Epoch}},
		CodeVersion: version.String(), CreatedAt: time.Now().UTC(),
	}
	if task == head.Regression {
		man.Labels, man.Range = nil, &rng
	}
	logf(o.Log, "trained an encoder %s head in %s: %d epochs, best %d (valid %s %.4g)",
		task, elapsed.Round(time.Millisecond), len(rec.History), rec.BestEpoch, rec.Options.Metric, float64(best.Metric))
	return man, nil
}

// classLabeller maps a classifier's training labels to k classes: labels
// that are all integers in [0, k) are the classes 0 … k-1 (a class without
// training rows keeps its output, as in a 0-5 scale without 5s); other
// labels must be exactly k distinct values.
func classLabeller(k int, train []string) (*labeller, error) {
	l, err := newLabeller(head.Classification, train)
	if err != nil {
		return nil, err
	}
	index := map[string]int{}
	for _, s := range l.labels {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v != math.Trunc(v) || v < 0 || v >= float64(k) {
			index = nil
			break
		}
		index[s] = int(v)
	}
	if index == nil {
		if len(l.labels) != k {
			return nil, fmt.Errorf("the train split has %d distinct labels (%s), not the %d classes asked for", len(l.labels), strings.Join(l.labels, ", "), k)
		}
		return l, nil
	}
	l.labels = make([]string, k)
	for i := range l.labels {
		l.labels[i] = strconv.Itoa(i)
		index[l.labels[i]] = i
	}
	l.index = index
	return l, nil
}
