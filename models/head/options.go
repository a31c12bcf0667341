package head

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// ClassWeighting names how cross-entropy weighs the classes, as bonepick's
// --loss-class-weight does.
type ClassWeighting string

// The class weightings. With nᶜ training rows of class c, N rows and K
// classes, balanced gives wᶜ = N/(K·nᶜ) (scikit-learn's
// compute_class_weight("balanced")) and sqrt gives √(N/(K·nᶜ)); both are
// then divided by their sum, as bonepick does. The loss is
// Σᵢ w_{yᵢ}·ℓᵢ / Σᵢ w_{yᵢ} over a batch (PyTorch's weighted
// CrossEntropyLoss), so the scale of the weights does not matter.
const (
	Uniform  ClassWeighting = "uniform"
	Balanced ClassWeighting = "balanced"
	Sqrt     ClassWeighting = "sqrt"
)

// Metric names the validation metric that selects the best epoch and drives
// early stopping.
type Metric string

// The metrics.
const (
	// Accuracy (higher is better; classification only).
	Accuracy Metric = "accuracy"
	// MacroF1 is the macro-averaged F1 (higher is better): of the classes
	// for classification; for regression, of the predictions rounded and
	// clipped to the score range against the rounded labels (the
	// FineWeb-Edu recipe's selection metric).
	MacroF1 Metric = "macro_f1"
	// Loss is the validation loss (lower is better).
	Loss Metric = "loss"
	// Spearman is the rank correlation of the outputs with the labels
	// (higher is better; regression and ranking).
	Spearman Metric = "spearman"
)

// Options tune training. The zero value of a field means its default.
type Options struct {
	// LearningRate is Adam's initial rate (default 1e-3).
	LearningRate float64 `json:"learning_rate"`
	// WeightDecay, when positive, makes the optimizer AdamW with this
	// decoupled weight decay (the step subtracts lr·decay·w).
	WeightDecay float64 `json:"weight_decay,omitempty"`
	// BatchSize defaults to model2vec's rule, 32·clamp(⌊N/30/32⌋, 1, 16)
	// for N training rows.
	BatchSize int `json:"batch_size"`
	// MaxEpochs bounds training; 0 means no bound (early stopping ends it).
	MaxEpochs int `json:"max_epochs"`
	// Patience is the number of epochs without improvement of Metric after
	// which training stops (default 5); negative disables early stopping,
	// which then needs MaxEpochs.
	Patience int `json:"early_stopping_patience"`
	// MinDelta is the improvement of Metric that counts (default 0.001 for
	// accuracy, as model2vec; 0 for the others).
	MinDelta float64 `json:"early_stopping_min_delta"`
	// Metric selects the best epoch, whose weights training returns, and
	// drives early stopping. Default: accuracy for classification, loss
	// otherwise.
	Metric Metric `json:"metric"`
	// Plateau options: the learning rate is multiplied by PlateauFactor
	// (default 0.5) after more than PlateauPatience (default 3) epochs
	// whose validation loss does not improve by a relative PlateauThreshold
	// (default 0.03), not below MinLearningRate (default 1e-6): model2vec's
	// ReduceLROnPlateau. NoPlateau keeps the rate constant.
	NoPlateau bool `json:"no_plateau,omitempty"`
	// LinearDecay replaces the plateau schedule by transformers' Trainer
	// default: the rate falls linearly from LearningRate, at the first
	// step, towards 0 after the last step of MaxEpochs epochs.
	LinearDecay      bool    `json:"linear_decay,omitempty"`
	PlateauFactor    float64 `json:"plateau_factor"`
	PlateauPatience  int     `json:"plateau_patience"`
	PlateauThreshold float64 `json:"plateau_threshold"`
	MinLearningRate  float64 `json:"min_learning_rate"`
	// ClassWeight weighs the cross-entropy (default Uniform);
	// ClassWeights holds the resolved weights after training.
	ClassWeight  ClassWeighting `json:"class_weight,omitempty"`
	ClassWeights []float64      `json:"class_weights,omitempty"`
	// Seed seeds the initialisation, the shuffles and the clustering.
	Seed uint64 `json:"seed"`
	// ValidFraction is the share of the training rows carved out for
	// validation when no validation set is given (default 0.1), stratified
	// by class for classification, always with seed 42 as model2vec does.
	ValidFraction float64 `json:"valid_fraction"`
	// Range is the score range of regression and ranking labels, used to
	// clip rounded predictions (default: the training targets' minimum and
	// maximum).
	Range *[2]float64 `json:"range,omitempty"`
	// Clusters is the number of k-means clusters of a ranking head's
	// training rows (default 100, at most the number of rows); Margin is
	// its hinge margin (default 1).
	Clusters int     `json:"clusters,omitempty"`
	Margin   float64 `json:"margin,omitempty"`

	// Labels name the classes of a classifier (default "0", "1", …).
	Labels []string `json:"-"`
	// Init optionally gives initial weights for some layers (nil entries
	// and missing layers are initialised randomly); e.g. a BERT pooler
	// for the first layer of a tanh head.
	Init []*Layer `json:"-"`
	// Progress, when set, is called after every epoch.
	Progress func(Epoch) `json:"-"`
}

// Epoch reports one epoch of training.
type Epoch struct {
	Epoch     int    `json:"epoch"`
	TrainLoss Number `json:"train_loss"`
	ValidLoss Number `json:"valid_loss"`
	// Metric is the value of the selection metric on the validation set.
	Metric Number `json:"metric"`
	// LearningRate is the rate this epoch trained with.
	LearningRate float64 `json:"learning_rate"`
	// Best reports whether this epoch is the best so far.
	Best bool `json:"best"`
	// SkippedBatches counts a ranking head's batches without a pair of
	// different labels, which were not trained on.
	SkippedBatches int     `json:"skipped_batches,omitempty"`
	Seconds        float64 `json:"seconds"`
	// RowsPerSecond is the training throughput; ETA estimates the time to
	// MaxEpochs (0 when unbounded).
	RowsPerSecond float64       `json:"rows_per_second"`
	ETA           time.Duration `json:"-"`
}

// Record is what a trained head remembers of its training (head.json's
// "training").
type Record struct {
	// Options are the resolved options.
	Options Options `json:"options"`
	// Mode is "features" (pooled features), "finetune" (embedding table
	// and token weights trained too) or "ranking".
	Mode      string `json:"mode"`
	Backend   string `json:"backend"`
	TrainRows int    `json:"train_rows"`
	ValidRows int    `json:"valid_rows"`
	// ValidCarved reports that the validation rows were carved out of the
	// training set.
	ValidCarved bool    `json:"valid_carved,omitempty"`
	History     []Epoch `json:"history"`
	BestEpoch   int     `json:"best_epoch"`
	// Stopped says why training ended: "early stopping" or "max epochs".
	Stopped string `json:"stopped"`
	// Clusters is the number of k-means clusters a ranking head used.
	Clusters int `json:"clusters,omitempty"`
}

// defaultBatchSize is model2vec's rule.
func defaultBatchSize(trainRows int) int {
	return 32 * min(max(trainRows/960, 1), 16)
}

// resolve fills the defaults for a task and trainRows training rows.
func (o *Options) resolve(cfg *Config, trainRows int) error {
	if o.LearningRate == 0 {
		o.LearningRate = 1e-3
	}
	if o.BatchSize == 0 {
		o.BatchSize = defaultBatchSize(trainRows)
	}
	if o.Patience == 0 {
		o.Patience = 5
	}
	if o.Metric == "" {
		o.Metric = Loss
		if cfg.Task == Classification {
			o.Metric = Accuracy
		}
	}
	if o.MinDelta == 0 && o.Metric == Accuracy {
		o.MinDelta = 0.001
	}
	if o.PlateauFactor == 0 {
		o.PlateauFactor = 0.5
	}
	if o.PlateauPatience == 0 {
		o.PlateauPatience = 3
	}
	if o.PlateauThreshold == 0 {
		o.PlateauThreshold = 0.03
	}
	if o.MinLearningRate == 0 {
		o.MinLearningRate = 1e-6
	}
	if o.ClassWeight == "" {
		o.ClassWeight = Uniform
	}
	if o.ValidFraction == 0 {
		o.ValidFraction = 0.1
	}
	if cfg.Task == Ranking {
		if o.Clusters == 0 {
			o.Clusters = 100
		}
		if o.Margin == 0 {
			o.Margin = 1
		}
	}
	switch {
	case o.LearningRate < 0 || math.IsNaN(o.LearningRate):
		return fmt.Errorf("head: learning rate %v", o.LearningRate)
	case o.WeightDecay < 0:
		return fmt.Errorf("head: weight decay %v", o.WeightDecay)
	case o.BatchSize < 0:
		return fmt.Errorf("head: batch size %d", o.BatchSize)
	case o.MaxEpochs < 0:
		return fmt.Errorf("head: max epochs %d", o.MaxEpochs)
	case o.Patience < 0 && o.MaxEpochs == 0:
		return fmt.Errorf("head: early stopping is off and max epochs is unbounded")
	case o.LinearDecay && o.MaxEpochs == 0:
		return fmt.Errorf("head: a linear decay of the learning rate needs a number of epochs")
	case o.ValidFraction <= 0 || o.ValidFraction >= 1:
		return fmt.Errorf("head: validation fraction %v not in (0, 1)", o.ValidFraction)
	case o.Clusters < 0:
		return fmt.Errorf("head: %d clusters", o.Clusters)
	case o.Margin < 0:
		return fmt.Errorf("head: margin %v", o.Margin)
	case len(o.Init) > len(cfg.Hidden)+1:
		return fmt.Errorf("head: %d initial layers for a %d-layer head", len(o.Init), len(cfg.Hidden)+1)
	}
	switch o.ClassWeight {
	case Uniform, Balanced, Sqrt:
	default:
		return fmt.Errorf("head: unknown class weighting %q (want uniform, balanced or sqrt)", o.ClassWeight)
	}
	if o.ClassWeight != Uniform && cfg.Task != Classification {
		return fmt.Errorf("head: class weighting %q needs a classifier", o.ClassWeight)
	}
	switch o.Metric {
	case Accuracy:
		if cfg.Task != Classification {
			return fmt.Errorf("head: metric accuracy needs a classifier")
		}
	case MacroF1:
		if cfg.Task == Ranking {
			return fmt.Errorf("head: metric macro_f1 needs a classifier or regressor")
		}
	case Spearman:
		if cfg.Task == Classification {
			return fmt.Errorf("head: metric spearman needs a regressor or ranker")
		}
	case Loss:
	default:
		return fmt.Errorf("head: unknown metric %q (want accuracy, macro_f1, loss or spearman)", o.Metric)
	}
	if o.Labels != nil && len(o.Labels) != cfg.Outputs {
		return fmt.Errorf("head: %d labels for %d outputs", len(o.Labels), cfg.Outputs)
	}
	for i, l := range o.Init {
		if l == nil {
			continue
		}
		d := cfg.dims()[i]
		if l.In != d[0] || l.Out != d[1] || len(l.W) != d[0]*d[1] || len(l.B) != d[1] {
			return fmt.Errorf("head: initial layer %d is %d→%d with %d weights and %d biases, the head wants %d→%d",
				i, l.In, l.Out, len(l.W), len(l.B), d[0], d[1])
		}
	}
	return nil
}

// classWeights resolves the weighting for the training classes.
func classWeights(w ClassWeighting, classes []int, k int) ([]float64, error) {
	out := make([]float64, k)
	if w == Uniform {
		for i := range out {
			out[i] = 1
		}
		return out, nil
	}
	counts := make([]int, k)
	for _, c := range classes {
		counts[c]++
	}
	var sum float64
	for c, n := range counts {
		if n == 0 {
			return nil, fmt.Errorf("head: class %d has no training rows, so %s class weights are undefined", c, w)
		}
		out[c] = float64(len(classes)) / float64(k*n)
		if w == Sqrt {
			out[c] = math.Sqrt(out[c])
		}
		sum += out[c]
	}
	for c := range out {
		out[c] /= sum
	}
	return out, nil
}

// splitSeed is model2vec's random_state for the validation split.
const splitSeed = 42

// carve splits n rows into training and validation rows: ⌈frac·n⌉
// validation rows, stratified by class when classes is given and every
// class has at least 2 rows (each class gives ⌊v·nᶜ/n⌋ rows, the rest
// going to the classes with the largest remainders, lower classes first
// among equals), drawn by a seeded shuffle. Both lists are sorted.
func carve(n int, classes []int, k int, frac float64) (train, valid []int) {
	r := rand.New(rand.NewPCG(splitSeed, 0x73706c6974)) // "split"
	nValid := int(math.Ceil(frac * float64(n)))
	nValid = min(max(nValid, 1), n-1)
	take := make([]bool, n)
	stratify := classes != nil
	var byClass [][]int
	if stratify {
		byClass = make([][]int, k)
		for i, c := range classes {
			byClass[c] = append(byClass[c], i)
		}
		for _, rows := range byClass {
			if len(rows) == 1 {
				stratify = false
			}
		}
	}
	if !stratify {
		for _, i := range r.Perm(n)[:nValid] {
			take[i] = true
		}
	} else {
		quota := make([]int, k)
		rem := make([]float64, k)
		given := 0
		for c, rows := range byClass {
			exact := float64(nValid) * float64(len(rows)) / float64(n)
			quota[c] = int(exact)
			rem[c] = exact - float64(quota[c])
			given += quota[c]
		}
		order := make([]int, k)
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case rem[a] > rem[b]:
				return -1
			case rem[a] < rem[b]:
				return 1
			}
			return 0
		})
		for i := 0; given < nValid; i++ {
			quota[order[i%k]]++
			given++
		}
		for c, rows := range byClass {
			for _, j := range r.Perm(len(rows))[:min(quota[c], len(rows))] {
				take[rows[j]] = true
			}
		}
	}
	for i, v := range take {
		if v {
			valid = append(valid, i)
		} else {
			train = append(train, i)
		}
	}
	return train, valid
}
