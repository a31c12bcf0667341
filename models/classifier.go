// Package models puts every kind of text classifier winnow can run behind
// one interface, Classifier, and loads them with Load, which detects the
// model's kind from a model directory (its manifest.json) or a model file.
//
// A classifier carries its preprocessing: it applies the normalizer its
// model was trained with (recorded in the model directory's manifest, or
// chosen for an external model) before predicting, and turns the per-label
// probabilities into one scalar score by a Scoring rule derived from its
// labels.
package models

import (
	"github.com/winnowlabs/winnow/models/modeldir"
	"github.com/winnowlabs/winnow/transforms/normalize"
)

// Classifier predicts label probabilities for texts. Implementations are
// safe for concurrent use and do not retain the texts they are given.
type Classifier interface {
	// Info describes the model.
	Info() *Info
	// Predict fills out[i] with the prediction for texts[i], which is raw
	// document text (the classifier normalizes it). len(out) must be at
	// least len(texts). out[i].Probs is reused when it has room for every
	// label, so a caller that keeps its Predictions allocates nothing.
	Predict(texts []string, out []Prediction) error
}

// Prediction is what a classifier says about one text.
type Prediction struct {
	// Probs holds one probability per label, indexed like Info.Labels.
	Probs []float32
	// Score is the scalar score (see Scoring), rounded by Round32 so that
	// it is written and read back exactly.
	Score float64
	// IntScore is Score rounded half to even and clipped to the score's
	// range, as FineWeb-Edu derives int_score.
	IntScore int
	// Top is the index of the most probable label.
	Top int
}

// Info describes a loaded model.
type Info struct {
	// Kind is the model family: "fasttext", "model2vec", "contrastive" or
	// "encoder".
	Kind string `json:"kind"`
	// Name is a short identifier, by default the model directory's or
	// file's base name with characters other than letters, digits, '-' and
	// '_' replaced by '_'. It names the score field and attributes.
	Name string `json:"name"`
	// Path is the model file; SHA256 is the hex SHA-256 of its contents.
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	// Labels are the model's labels without fastText's "__label__" prefix,
	// in the model's order.
	Labels []string `json:"labels"`
	// Normalizer is the text normalizer applied before prediction.
	Normalizer normalize.Spec `json:"normalizer"`
	// Scoring is how Prediction.Score derives from the probabilities.
	Scoring Scoring `json:"scoring"`
	// MultiLabel reports independent labels (a multi-label classifier's
	// sigmoid outputs): scores carry every label's probability and the
	// most probable label.
	MultiLabel bool `json:"multi_label,omitempty"`
	// Manifest is the model directory's manifest, nil for a bare model file.
	Manifest *modeldir.Manifest `json:"-"`
}

// Version returns the short model version used in output directory names:
// the first 12 hex digits of the model file's SHA-256.
func (i *Info) Version() string {
	if len(i.SHA256) < 12 {
		return i.SHA256
	}
	return i.SHA256[:12]
}
