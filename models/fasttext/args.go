package fasttext

import (
	"fmt"
	"runtime"
	"strings"
)

// Loss is the output layer's loss, numbered as in fastText's model files.
type Loss int32

// The losses fastText supports.
const (
	LossHS      Loss = 1 // hierarchical softmax
	LossNS      Loss = 2 // negative sampling
	LossSoftmax Loss = 3 // softmax
	LossOVA     Loss = 4 // one-vs-all (independent binary logistic per label)
)

// String returns the loss's name as fastText prints it.
func (l Loss) String() string {
	switch l {
	case LossHS:
		return "hs"
	case LossNS:
		return "ns"
	case LossSoftmax:
		return "softmax"
	case LossOVA:
		return "one-vs-all"
	}
	return fmt.Sprintf("loss(%d)", int32(l))
}

// ParseLoss parses a loss name as the fastText command line accepts it: hs,
// ns, softmax, one-vs-all or ova.
func ParseLoss(s string) (Loss, error) {
	switch s {
	case "hs":
		return LossHS, nil
	case "ns":
		return LossNS, nil
	case "softmax":
		return LossSoftmax, nil
	case "one-vs-all", "ova":
		return LossOVA, nil
	}
	return 0, fmt.Errorf("unknown loss %q (want hs, ns, softmax or one-vs-all)", s)
}

// ModelKind is the model architecture, numbered as in fastText's model files.
type ModelKind int32

// The architectures of fastText models. Only supervised models can be
// trained by this package; the others load for inspection.
const (
	ModelCBOW       ModelKind = 1
	ModelSkipgram   ModelKind = 2
	ModelSupervised ModelKind = 3
)

// String returns the architecture's name as fastText prints it.
func (m ModelKind) String() string {
	switch m {
	case ModelCBOW:
		return "cbow"
	case ModelSkipgram:
		return "sg"
	case ModelSupervised:
		return "sup"
	}
	return fmt.Sprintf("model(%d)", int32(m))
}

// Args are fastText's hyper-parameters, with fastText's names. The fields up
// to T are stored in a model file; the rest only steer training.
type Args struct {
	Dim          int
	WS           int
	Epoch        int
	MinCount     int
	Neg          int
	WordNgrams   int
	Loss         Loss
	Model        ModelKind
	Bucket       int
	Minn         int
	Maxn         int
	LRUpdateRate int
	T            float64

	LR            float64
	MinCountLabel int
	Label         string
	Thread        int
	Seed          int
	// PretrainedVectors is a .vec file whose vectors initialise the input
	// rows of the words it lists.
	PretrainedVectors string
	// Exact makes training add dot products in the C++ tool's sequential
	// order, without the fused multiply-add kernels. With Thread 1 it then
	// reproduces Debian's fastText 0.9.2 bit for bit (same model file) at
	// the cost of speed. Training with Thread 1 is deterministic either way.
	Exact bool
}

// DefaultArgs returns the defaults of `fasttext supervised`: lr 0.1, dim 100,
// ws 5, epoch 5, minCount 1, neg 5, wordNgrams 1, loss softmax, bucket
// 2,000,000, no character n-grams, lrUpdateRate 100, t 1e-4, label prefix
// __label__, seed 0, and one thread per CPU (the C++ tool defaults to 12).
func DefaultArgs() Args {
	return Args{
		Dim:          100,
		WS:           5,
		Epoch:        5,
		MinCount:     1,
		Neg:          5,
		WordNgrams:   1,
		Loss:         LossSoftmax,
		Model:        ModelSupervised,
		Bucket:       2000000,
		Minn:         0,
		Maxn:         0,
		LRUpdateRate: 100,
		T:            1e-4,
		LR:           0.1,
		Label:        "__label__",
		Thread:       runtime.NumCPU(),
	}
}

// ClassifierArgs returns bonepick's train-fasttext defaults, winnow's
// defaults for quality classifiers: dim 256, lr 0.1, wordNgrams 3,
// minCount 5, epoch 3, bucket 2,000,000, ws 5, neg 5, loss softmax, seed
// 42, no character n-grams, one thread per CPU.
func ClassifierArgs() Args {
	a := DefaultArgs()
	a.Dim, a.LR, a.WordNgrams, a.MinCount, a.Epoch = 256, 0.1, 3, 5, 3
	a.Bucket, a.WS, a.Neg, a.Loss, a.Seed = 2000000, 5, 5, LossSoftmax, 42
	a.Thread = runtime.NumCPU()
	return a
}

// Validate reports the first unusable setting.
func (a *Args) Validate() error {
	switch {
	case a.Dim <= 0:
		return fmt.Errorf("dim must be positive, got %d", a.Dim)
	case a.Epoch <= 0:
		return fmt.Errorf("epoch must be positive, got %d", a.Epoch)
	case a.LR <= 0:
		return fmt.Errorf("lr must be positive, got %g", a.LR)
	case a.WordNgrams <= 0:
		return fmt.Errorf("wordNgrams must be at least 1, got %d", a.WordNgrams)
	case a.Bucket < 0:
		return fmt.Errorf("bucket must not be negative, got %d", a.Bucket)
	case a.Bucket == 0 && (a.WordNgrams > 1 || a.Maxn > 0):
		return fmt.Errorf("bucket must be positive when wordNgrams > 1 or maxn > 0")
	case a.Minn < 0 || a.Maxn < 0 || (a.Maxn > 0 && a.Minn > a.Maxn):
		return fmt.Errorf("invalid character n-gram lengths minn %d, maxn %d", a.Minn, a.Maxn)
	case a.Loss < LossHS || a.Loss > LossOVA:
		return fmt.Errorf("invalid loss %d", a.Loss)
	case a.Loss == LossNS && a.Neg <= 0:
		return fmt.Errorf("neg must be positive for loss ns, got %d", a.Neg)
	case a.Thread <= 0:
		return fmt.Errorf("thread must be positive, got %d", a.Thread)
	case a.LRUpdateRate <= 0:
		return fmt.Errorf("lrUpdateRate must be positive, got %d", a.LRUpdateRate)
	case a.Label == "":
		return fmt.Errorf("label prefix must not be empty")
	case strings.ContainsAny(a.Label, " \t\n\r\v\f\x00"):
		return fmt.Errorf("label prefix %q contains whitespace", a.Label)
	case a.Model != ModelSupervised:
		return fmt.Errorf("only supervised training is implemented (model %s)", a.Model)
	}
	return nil
}

// Map returns the arguments as a map keyed by fastText's argument names, for
// manifests and reports.
func (a Args) Map() map[string]any {
	m := map[string]any{
		"dim": a.Dim, "ws": a.WS, "epoch": a.Epoch, "minCount": a.MinCount,
		"minCountLabel": a.MinCountLabel, "neg": a.Neg, "wordNgrams": a.WordNgrams,
		"loss": a.Loss.String(), "model": a.Model.String(), "bucket": a.Bucket,
		"minn": a.Minn, "maxn": a.Maxn, "lrUpdateRate": a.LRUpdateRate, "t": a.T,
		"lr": a.LR, "label": a.Label, "thread": a.Thread, "seed": a.Seed,
	}
	if a.PretrainedVectors != "" {
		m["pretrainedVectors"] = a.PretrainedVectors
	}
	if a.Exact {
		m["exact"] = true
	}
	return m
}
