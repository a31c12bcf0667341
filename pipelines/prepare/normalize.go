package prepare

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// NormalizeOptions configures Normalize.
type NormalizeOptions struct {
	mapstep.Common
	// TextExpression and LabelExpression select the text and the label
	// (defaults .text and .score).
	TextExpression  string `json:"text_expression"`
	LabelExpression string `json:"label_expression"`
	// Normalization names the text normalizer (default plsfix, as
	// bonepick's normalize-dataset).
	Normalization string `json:"normalization"`
	// Tokenizer is the tokenizer.json that tokenizer-based normalizers
	// need; it must be readable at the same path by every worker.
	Tokenizer string `json:"tokenizer,omitempty"`
}

// Normalize rewrites every row with its text normalized and its label
// normalized (a leading "__label__" stripped, whitespace runs made "_",
// lowercased); other fields are kept. Values selected by a plain field path
// are written back to that field, values of other jq expressions to "text"
// and "score" (see normalize.OpArgs). The manifest's options record the
// normalizer's name and version.
func Normalize(ctx context.Context, o NormalizeOptions) (*mapstep.Result, error) {
	o.TextExpression, o.LabelExpression = defaultExpressions(o.TextExpression, o.LabelExpression)
	if o.Normalization == "" {
		o.Normalization = normalize.Plsfix
	}
	nm, err := plannedNormalizer(o.Normalization, o.Tokenizer)
	if err != nil {
		return nil, err
	}
	o.Tokenizer = nm.Tokenizer
	args := normalize.OpArgs{TextExpression: o.TextExpression, LabelExpression: o.LabelExpression, Normalizer: nm}
	if _, err := normalize.NewOp(args); err != nil {
		return nil, err
	}
	return mapstep.Run(ctx, o.Common, mapstep.Step{
		Command: "normalize",
		Options: struct {
			NormalizeOptions
			Normalizer normalize.Spec `json:"normalizer"`
		}{o, nm},
		Ops: []rows.Spec{*mapstep.MustSpec("normalize", args)},
	})
}

// defaultExpressions fills in the default text and label expressions.
func defaultExpressions(text, label string) (string, string) {
	if text == "" {
		text = rows.DefaultTextExpression
	}
	if label == "" {
		label = rows.DefaultLabelExpression
	}
	return text, label
}

// plannedNormalizer builds the named normalizer once, so that a bad name or
// tokenizer fails before the pipeline starts, and returns its description
// (name, version, tokenizer path, made absolute when local, and hash), which
// workers check their own against.
func plannedNormalizer(name, tokenizer string) (normalize.Spec, error) {
	if tokenizer != "" {
		if slices.Contains(normalize.Names(), name) && !normalize.NeedsTokenizer(name) {
			return normalize.Spec{}, fmt.Errorf("the %s normalizer uses no tokenizer; a tokenizer is for tokenizer-based normalizers", name)
		}
		if storage.IsLocal(tokenizer) {
			abs, err := filepath.Abs(tokenizer)
			if err != nil {
				return normalize.Spec{}, fmt.Errorf("tokenizer %s: %w", tokenizer, err)
			}
			tokenizer = abs
		}
	}
	n, err := normalize.New(name, normalize.Options{Tokenizer: tokenizer})
	if err != nil {
		return normalize.Spec{}, err
	}
	return normalize.Describe(n), nil
}
