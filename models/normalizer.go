package models

import (
	"fmt"

	"github.com/winnowlabs/winnow/transforms/normalize"
)

// normalizerFor builds the normalizer a model needs: the one its manifest
// records (want, when its name is set), or the one named by override for a
// model without a recorded normalizer (default normalize.Newlines). A
// recorded normalizer whose version or tokenizer differs from what this
// build produces is refused, as is an override naming a different
// normalizer.
func normalizerFor(want *normalize.Spec, override, tokenizer string) (normalize.Normalizer, error) {
	if want == nil || want.Name == "" {
		name := override
		if name == "" {
			name = normalize.Newlines
		}
		return normalize.New(name, normalize.Options{Tokenizer: tokenizer})
	}
	if override != "" && override != want.Name {
		return nil, fmt.Errorf("the model was trained with normalizer %q; normalizer %q would feed it text it never saw", want.Name, override)
	}
	if tokenizer == "" {
		tokenizer = want.Tokenizer
	}
	n, err := normalize.New(want.Name, normalize.Options{Tokenizer: tokenizer})
	if err != nil {
		return nil, err
	}
	if n.Version() != want.Version {
		return nil, fmt.Errorf("the model was trained with normalizer %s version %s, but this build's %s is version %s: its output differs, so scores would be wrong; retrain the model or use a matching build",
			want.Name, want.Version, want.Name, n.Version())
	}
	if want.TokenizerHash != "" {
		got := normalize.Describe(n).TokenizerHash
		if got != want.TokenizerHash {
			return nil, fmt.Errorf("normalizer %s: tokenizer %s has SHA-256 %s, but the model was trained with one whose SHA-256 is %s", want.Name, tokenizer, got, want.TokenizerHash)
		}
	}
	return n, nil
}
