package fasttext

import (
	"fmt"
	"io"
	"math"
)

// LabelCounts are the prediction counts of one label over a test set.
type LabelCounts struct {
	// Gold is how many examples carry the label.
	Gold int64
	// Predicted is how many times it was predicted.
	Predicted int64
	// PredictedGold is how many of those predictions were right.
	PredictedGold int64
}

// Precision is PredictedGold/Predicted, NaN when never predicted.
func (c LabelCounts) Precision() float64 {
	if c.Predicted == 0 {
		return math.NaN()
	}
	return float64(c.PredictedGold) / float64(c.Predicted)
}

// Recall is PredictedGold/Gold, NaN when the label never occurs.
func (c LabelCounts) Recall() float64 {
	if c.Gold == 0 {
		return math.NaN()
	}
	return float64(c.PredictedGold) / float64(c.Gold)
}

// F1 is the harmonic mean of precision and recall,
// 2·PredictedGold/(Predicted+Gold), NaN when both counts are zero.
func (c LabelCounts) F1() float64 {
	if c.Predicted+c.Gold == 0 {
		return math.NaN()
	}
	return 2 * float64(c.PredictedGold) / float64(c.Predicted+c.Gold)
}

// TestResult holds fastText's test metrics (FastText::test with a Meter):
// micro-averaged precision and recall at k over all predictions, and
// per-label counts.
type TestResult struct {
	K         int
	Threshold float32
	// Examples counts the lines with at least one known label and one
	// feature.
	Examples int64
	// All pools the counts of every label.
	All LabelCounts
	// Labels holds each label's counts, indexed like Model.Labels.
	Labels []LabelCounts
}

// PrecisionAtK is fastText's P@k: correct predictions over predictions.
func (r *TestResult) PrecisionAtK() float64 { return r.All.Precision() }

// RecallAtK is fastText's R@k: correct predictions over gold labels.
func (r *TestResult) RecallAtK() float64 { return r.All.Recall() }

// F1 is the micro-averaged F1 score (Meter::f1Score).
func (r *TestResult) F1() float64 {
	p, rc := r.PrecisionAtK(), r.RecallAtK()
	if p+rc == 0 || math.IsNaN(p+rc) {
		return math.NaN()
	}
	return 2 * p * rc / (p + rc)
}

// Test predicts the k best labels (threshold as in Predict; k -1 for all)
// of every line of r, which is in the training format, and counts the hits.
// Lines are read as the C++ tool reads them: a newline ends a line, labels
// not in the model are ignored, and lines without labels or features do not
// count.
func (m *Model) Test(r io.Reader, k int, threshold float32) (*TestResult, error) {
	if err := checkK(k); err != nil {
		return nil, err
	}
	if m.args.Model != ModelSupervised {
		return nil, fmt.Errorf("model needs to be supervised for prediction (it is %s)", m.args.Model)
	}
	res := &TestResult{K: k, Threshold: threshold, Labels: make([]LabelCounts, m.dict.nlabels)}
	tr := newTokenReader(r, 1<<16)
	s := m.getState()
	defer m.pool.Put(s)
	for !tr.atEOF() {
		m.dict.readLine(tr, &s.line)
		if len(s.line.labels) == 0 || len(s.line.ids) == 0 {
			continue
		}
		s.heap = m.predictIDs(s, s.line.ids, k, threshold, s.heap[:0])
		res.log(s.line.labels, s.heap)
	}
	if err := tr.readErr(); err != nil {
		return nil, fmt.Errorf("read test data: %w", err)
	}
	return res, nil
}

func (r *TestResult) log(gold []int32, preds []scored) {
	r.Examples++
	r.All.Gold += int64(len(gold))
	r.All.Predicted += int64(len(preds))
	for _, p := range preds {
		r.Labels[p.id].Predicted++
		if containsInt32(gold, p.id) {
			r.Labels[p.id].PredictedGold++
			r.All.PredictedGold++
		}
	}
	for _, g := range gold {
		r.Labels[g].Gold++
	}
}
