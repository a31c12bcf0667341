package models

import (
	"fmt"
	"strings"
	"sync"

	"github.com/winnowlabs/winnow/models/fasttext"
	"github.com/winnowlabs/winnow/transforms/normalize"
)

// fastTextClassifier adapts a fastText supervised model.
type fastTextClassifier struct {
	info  *Info
	model *fasttext.Model
	// norm is nil when the normalizer is implied by fastText's tokenizer
	// (Newlines: a newline already separates tokens like a space does).
	norm normalize.Normalizer
	pool sync.Pool // *fastTextScratch
}

type fastTextScratch struct {
	predictor *fasttext.Predictor
	preds     []fasttext.Prediction
}

func newFastText(m *fasttext.Model, info *Info, norm normalize.Normalizer) *fastTextClassifier {
	c := &fastTextClassifier{info: info, model: m, norm: norm}
	if norm.Name() == normalize.Newlines {
		c.norm = nil
	}
	return c
}

// fastTextLabels strips the label prefix from the model's labels.
func fastTextLabels(m *fasttext.Model) []string {
	prefix := m.Args().Label
	labels := m.Labels()
	for i, l := range labels {
		labels[i] = strings.TrimPrefix(l, prefix)
	}
	return labels
}

func (c *fastTextClassifier) Info() *Info { return c.info }

// Predict asks fastText for every label's probability (k = -1, threshold
// 0, as fastText's predict-prob with k -1: labels whose probability falls
// below 1e-5 in a hierarchical softmax are pruned and get 0).
func (c *fastTextClassifier) Predict(texts []string, out []Prediction) error {
	if len(out) < len(texts) {
		return fmt.Errorf("predict: %d results for %d texts", len(out), len(texts))
	}
	s, ok := c.pool.Get().(*fastTextScratch)
	if !ok {
		s = &fastTextScratch{predictor: c.model.NewPredictor()}
	}
	defer c.pool.Put(s)
	n := len(c.info.Labels)
	for i, text := range texts {
		if c.norm != nil {
			text = c.norm.Normalize(text)
		}
		s.preds = s.predictor.AppendPredict(s.preds[:0], text, -1, 0)
		p := &out[i]
		if cap(p.Probs) < n {
			p.Probs = make([]float32, n)
		} else {
			p.Probs = p.Probs[:n]
			clear(p.Probs)
		}
		for _, pr := range s.preds {
			p.Probs[pr.ID] = pr.Prob
		}
		c.info.Scoring.Apply(p)
		if len(s.preds) > 0 {
			p.Top = int(s.preds[0].ID) // fastText's own order breaks ties
		}
	}
	return nil
}
