// Package ftdata defines the fastText training-data directory that
// `winnow to-fasttext` writes and `winnow train-fasttext` reads: train.txt,
// valid.txt (when the dataset has a valid split) and test.txt, each line
// "__label__<label> <text>", plus report.json describing how they were made.
package ftdata

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// File names inside a fastText data directory.
const (
	ReportName = "report.json"
	TrainName  = "train.txt"
	ValidName  = "valid.txt"
	TestName   = "test.txt"
)

// SplitCounts counts the lines written for one split.
type SplitCounts struct {
	Rows   int64            `json:"rows"`
	Labels map[string]int64 `json:"labels"`
}

// Report describes a fastText data directory.
type Report struct {
	Inputs          []string `json:"inputs"`
	TextExpression  string   `json:"text_expression"`
	LabelExpression string   `json:"label_expression"`
	// Normalizer is the text normalizer applied to every line; a model
	// trained on this directory records it in its manifest.
	Normalizer normalize.Spec `json:"normalizer"`
	MaxLength  int            `json:"max_length,omitempty"`
	MultiLabel bool           `json:"multi_label,omitempty"`
	// AutoBins, when set, are the N+1 edges of the equal-count bins made by
	// --auto N from the training labels; bin i holds [Edges[i], Edges[i+1]).
	AutoBins []float64              `json:"auto_bins,omitempty"`
	Splits   map[string]SplitCounts `json:"splits"`
	Code     string                 `json:"code_version"`
}

// ReadReport loads dir's report.json; dir may be local or on an object
// store (gs://, s3://).
func ReadReport(ctx context.Context, dir string) (*Report, error) {
	p := storage.Join(dir, ReportName)
	b, ok, err := storage.ReadFileIfExists(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if !ok {
		return nil, fmt.Errorf("%s is not a fastText data directory (no %s; make one with `winnow to-fasttext`)", dir, ReportName)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("parse %s: %w", p, err)
	}
	return &r, nil
}

// WriteReport stores r as dir's report.json, atomically.
func WriteReport(ctx context.Context, dir string, r *Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode fastText data report: %w", err)
	}
	if err := storage.WriteFile(ctx, storage.Join(dir, ReportName), append(b, '\n')); err != nil {
		return fmt.Errorf("write fastText data report: %w", err)
	}
	return nil
}
