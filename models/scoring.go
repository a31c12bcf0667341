package models

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Scoring modes: how a scalar score derives from label probabilities.
const (
	// ScorePositive is the probability of one label: the positive label of a
	// binary classifier ("pos" unless another is named), or any label named
	// explicitly.
	ScorePositive = "positive"
	// ScoreExpected is the expected value of numeric labels (graded
	// classifiers, e.g. 0-5): sum(value × p) / sum(p).
	ScoreExpected = "expected"
	// ScoreTop is the probability of the most probable label, for
	// classifiers whose labels are neither binary nor numeric (language
	// identification); the label itself is reported beside it.
	ScoreTop = "top"
	// ScoreValue is the model's output itself: a regressor's predicted
	// score or a ranker's score. Such models have no label probabilities.
	ScoreValue = "value"
)

// DefaultPositiveLabel is the positive label of a binary classifier when
// none is named.
const DefaultPositiveLabel = "pos"

// Scoring turns label probabilities into a score.
type Scoring struct {
	Mode string `json:"mode"`
	// Positive is the scored label's index (ScorePositive).
	Positive int `json:"positive,omitempty"`
	// Values are the labels' numeric values (ScoreExpected).
	Values []float64 `json:"values,omitempty"`
	// Min and Max bound IntScore: the smallest and largest label value, or
	// 0 and 1 for probabilities.
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// NewScoring chooses the scoring rule for labels (without prefix):
//
//   - with positive named, the probability of that label (which must exist);
//   - with two labels of which one is "pos", the probability of "pos";
//   - with labels that are all numbers (0, 1, ..., 5), the expected value;
//   - with two other labels, an error: which one is positive must be named
//     (the most probable label's probability, always at least 0.5, would
//     rank texts by confidence, not quality);
//   - otherwise the probability of the most probable label.
func NewScoring(labels []string, positive string) (Scoring, error) {
	if len(labels) == 0 {
		return Scoring{}, fmt.Errorf("the model has no labels")
	}
	if positive != "" {
		i := slices.Index(labels, positive)
		if i < 0 {
			return Scoring{}, fmt.Errorf("positive label %q is not one of the model's labels (%s)", positive, strings.Join(labels, ", "))
		}
		return Scoring{Mode: ScorePositive, Positive: i, Min: 0, Max: 1}, nil
	}
	if i := slices.Index(labels, DefaultPositiveLabel); i >= 0 && len(labels) == 2 {
		return Scoring{Mode: ScorePositive, Positive: i, Min: 0, Max: 1}, nil
	}
	if values, ok := numericLabels(labels); ok {
		return Scoring{Mode: ScoreExpected, Values: values, Min: slices.Min(values), Max: slices.Max(values)}, nil
	}
	if len(labels) == 2 {
		return Scoring{}, fmt.Errorf("the model is binary with labels %q and %q, neither %q: name the positive label to score with (e.g. hq for DCLM's classifier)",
			labels[0], labels[1], DefaultPositiveLabel)
	}
	return Scoring{Mode: ScoreTop, Min: 0, Max: 1}, nil
}

// NewValueScoring scores by the model's output, whose int_score is clipped
// to [min, max] (a regressor's training range).
func NewValueScoring(min, max float64) Scoring {
	return Scoring{Mode: ScoreValue, Min: min, Max: max}
}

func numericLabels(labels []string) ([]float64, bool) {
	values := make([]float64, len(labels))
	for i, l := range labels {
		v, err := strconv.ParseFloat(l, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, false
		}
		values[i] = v
	}
	return values, true
}

// ApplyValue sets p's Score and IntScore from a model's output (ScoreValue).
func (s *Scoring) ApplyValue(p *Prediction, v float64) {
	p.Probs, p.Top = p.Probs[:0], 0
	p.Score = Round32(v)
	p.IntScore = s.IntScore(p.Score)
}

// Apply sets p's Score, IntScore and Top from p.Probs.
func (s *Scoring) Apply(p *Prediction) {
	top := 0
	for i, v := range p.Probs {
		if v > p.Probs[top] {
			top = i
		}
	}
	p.Top = top
	var score float64
	switch s.Mode {
	case ScorePositive:
		score = float64(p.Probs[s.Positive])
	case ScoreExpected:
		var sum, weighted float64
		for i, v := range p.Probs {
			sum += float64(v)
			weighted += float64(v) * s.Values[i]
		}
		if sum > 0 {
			score = weighted / sum
		}
	default:
		score = float64(p.Probs[top])
	}
	p.Score = Round32(score)
	p.IntScore = s.IntScore(p.Score)
}

// Round32 rounds x to float32 precision and returns the float64 whose
// shortest decimal form is x's shortest float32 form (0.93, not
// 0.9300000071525574), so that a score written as JSON and read back is
// the same number.
func Round32(x float64) float64 {
	var buf [32]byte
	v, err := strconv.ParseFloat(string(strconv.AppendFloat(buf[:0], x, 'g', -1, 32)), 64)
	if err != nil {
		return float64(float32(x)) // ±Inf: out of float32 range
	}
	return v
}

// IntScore rounds score half to even (Python's round, as FineWeb-Edu uses)
// after clipping it to [Min, Max].
func (s *Scoring) IntScore(score float64) int {
	return int(math.RoundToEven(min(max(score, s.Min), s.Max)))
}

// Describe says in words how the score is computed, for reports.
func (s *Scoring) Describe(labels []string) string {
	switch s.Mode {
	case ScorePositive:
		return fmt.Sprintf("P(%s)", labels[s.Positive])
	case ScoreExpected:
		return "expected label value"
	case ScoreValue:
		return "the model's output"
	}
	return "probability of the most probable label"
}
