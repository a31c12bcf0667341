package models

import (
	"fmt"
	"strings"

	"github.com/winnowlabs/winnow/models/modeldir"
	"github.com/winnowlabs/winnow/transforms/normalize"
)

// Newlines is the normalizer applied to external fastText models by
// default: every newline becomes a space, which is exactly what fastText's
// own predict sees when a document is given as one line.
const Newlines = "newlines"

// newlinesVersion changes whenever the newlines normalizer's output does.
const newlinesVersion = "1"

type newlines struct{}

func (newlines) Name() string                 { return Newlines }
func (newlines) Version() string              { return newlinesVersion }
func (newlines) Normalize(text string) string { return strings.ReplaceAll(text, "\n", " ") }

// NewNormalizer returns the named normalizer: Newlines, or one of
// transforms/normalize's (whitespace, plsfix, potion, ...; tokenizer-based
// ones need the path of a tokenizer.json).
func NewNormalizer(name, tokenizer string) (normalize.Normalizer, error) {
	if name == Newlines {
		return newlines{}, nil
	}
	n, err := normalize.New(name, normalize.Options{Tokenizer: tokenizer})
	if err != nil {
		return nil, fmt.Errorf("normalizer: %w (or %q)", err, Newlines)
	}
	return n, nil
}

// normalizerFor builds the normalizer a model needs: the one its manifest
// records (want, when its name is set), or the one named by override for a
// model without a recorded normalizer (default Newlines). A recorded
// normalizer whose version or tokenizer differs from what this build
// produces is refused, as is an override naming a different normalizer.
func normalizerFor(want *modeldir.Normalizer, override, tokenizer string) (normalize.Normalizer, error) {
	if want == nil || want.Name == "" {
		name := override
		if name == "" {
			name = Newlines
		}
		return NewNormalizer(name, tokenizer)
	}
	if override != "" && override != want.Name {
		return nil, fmt.Errorf("the model was trained with normalizer %q; --normalizer %q would feed it text it never saw", want.Name, override)
	}
	if tokenizer == "" {
		tokenizer = want.Tokenizer
	}
	n, err := NewNormalizer(want.Name, tokenizer)
	if err != nil {
		return nil, err
	}
	if n.Version() != want.Version {
		return nil, fmt.Errorf("the model was trained with normalizer %s version %s, but this build's %s is version %s: its output differs, so scores would be wrong; retrain the model or use a matching build",
			want.Name, want.Version, want.Name, n.Version())
	}
	if want.TokenizerHash != "" {
		got := Describe(n).TokenizerHash
		if got != want.TokenizerHash {
			return nil, fmt.Errorf("normalizer %s: tokenizer %s has SHA-256 %s, but the model was trained with one whose SHA-256 is %s", want.Name, tokenizer, got, want.TokenizerHash)
		}
	}
	return n, nil
}

// Describe returns n as a model manifest records it.
func Describe(n normalize.Normalizer) modeldir.Normalizer {
	if _, ok := n.(newlines); ok {
		return modeldir.Normalizer{Name: Newlines, Version: newlinesVersion}
	}
	return normalize.Manifest(n)
}
