package ftdata

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/summary"
)

// LineArgs configures the "fasttext-line" row op, which replaces a row by its
// fastText line ("__label__<label> <text>", see Formatter).
type LineArgs struct {
	TextExpression  string         `json:"text_expression"`
	LabelExpression string         `json:"label_expression"`
	Normalizer      normalize.Spec `json:"normalizer"`
	// MaxLength, when positive, truncates texts to that many characters
	// before they are normalized.
	MaxLength int `json:"max_length,omitempty"`
	// Auto, when positive, labels every row with its bin among Auto
	// equal-count bins of the training labels (see TrainingBins): the op's
	// global input must then be the summary of a measuring pass over the
	// training split with LabelExpression.
	Auto int `json:"auto,omitempty"`
	// MultiLabel reads the label as an object {criterion: bool} and labels
	// the row with every true criterion (see MultiLabels).
	MultiLabel bool `json:"multi_label,omitempty"`
}

// Validate checks the arguments and compiles the expressions, so that a typo
// is reported before any data is read.
func (a LineArgs) Validate() error {
	_, _, err := a.compile()
	return err
}

func (a LineArgs) compile() (text, label *rows.Expr, err error) {
	if a.Auto < 0 {
		return nil, nil, fmt.Errorf("automatic label bins %d: want a number of bins of at least 1", a.Auto)
	}
	if a.Auto > 0 && a.MultiLabel {
		return nil, nil, errors.New("automatic label bins bin one numeric label; they cannot be combined with multiple labels")
	}
	if a.MaxLength < 0 {
		return nil, nil, fmt.Errorf("maximum length %d is negative", a.MaxLength)
	}
	if text, err = rows.Compile(a.TextExpression); err != nil {
		return nil, nil, fmt.Errorf("text expression: %w", err)
	}
	if label, err = rows.Compile(a.LabelExpression); err != nil {
		return nil, nil, fmt.Errorf("label expression: %w", err)
	}
	return text, label, nil
}

// NewLineOp compiles a "fasttext-line" op; bins are the --auto bins (nil
// unless a.Auto is set).
func NewLineOp(a LineArgs, bins Bins) (rows.Op, error) {
	text, label, err := a.compile()
	if err != nil {
		return nil, err
	}
	if a.Auto > 0 && len(bins) == 0 {
		return nil, errors.New("automatic label bins need the bins of the training labels")
	}
	n, err := normalize.FromSpec(a.Normalizer)
	if err != nil {
		return nil, err
	}
	return &lineOp{
		f:    Formatter{Normalizer: n, MaxLength: a.MaxLength},
		text: text, label: label, bins: bins, multi: a.MultiLabel,
	}, nil
}

// TrainingBins makes the --auto bins from a measuring pass's summary: every
// numeric label of its "train" split counts, as often as it occurs (see
// AutoBins). Labels that are not numbers are left out; the rows carrying
// them are bad rows when they are formatted.
func TrainingBins(sum *summary.Summary, n int) (Bins, error) {
	train := sum.Splits["train"]
	if train == nil {
		return nil, errors.New("auto bins: the dataset has no train split")
	}
	var values []float64
	for l, count := range train.Labels {
		v, err := NumericLabel(l)
		if err != nil {
			continue
		}
		for range count {
			values = append(values, v)
		}
	}
	return AutoBins(values, n)
}

type lineOp struct {
	f           Formatter
	text, label *rows.Expr
	bins        Bins
	multi       bool
}

func (o *lineOp) Apply(r *rows.Row) (bool, error) {
	obj, err := r.Object()
	if err != nil {
		return false, err
	}
	text, err := rows.TextOf(o.text, obj)
	if err != nil {
		return false, err
	}
	labels, err := o.labels(obj)
	if err != nil {
		return false, err
	}
	line, err := o.f.AppendLine(nil, labels, text)
	if err != nil {
		return false, rows.BadRowf("label %s: %v", o.label, err)
	}
	r.SetLine(line[:len(line)-1])
	return true, nil
}

// labels returns the row's labels as the line will carry them.
func (o *lineOp) labels(obj map[string]any) ([]string, error) {
	if o.bins == nil && !o.multi {
		l, err := rows.LabelOf(o.label, obj)
		return []string{l}, err
	}
	v, ok, err := o.label.One(obj)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, rows.BadRowf("label expression %s produced no value", o.label)
	case v == nil:
		return nil, rows.BadRowf("label %s is null", o.label)
	}
	if o.multi {
		labels, err := MultiLabels(v)
		if err != nil {
			return nil, rows.BadRowf("label %s: %v", o.label, err)
		}
		return labels, nil
	}
	f, err := NumericLabel(v)
	if err != nil {
		return nil, rows.BadRowf("label %s: %v (automatic label bins need numbers)", o.label, err)
	}
	return []string{o.bins.Label(f)}, nil
}

func init() {
	rows.Register("fasttext-line", func(args, global json.RawMessage) (rows.Op, error) {
		var a LineArgs
		if err := json.Unmarshal(args, &a); err != nil {
			return nil, fmt.Errorf("decode arguments: %w", err)
		}
		var bins Bins
		if a.Auto > 0 {
			sum, err := summary.Decode(global)
			if err != nil {
				return nil, fmt.Errorf("automatic label bins: %w", err)
			}
			if bins, err = TrainingBins(sum, a.Auto); err != nil {
				return nil, err
			}
		}
		return NewLineOp(a, bins)
	})
}
