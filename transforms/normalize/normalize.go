package normalize

import (
	"fmt"
	"slices"
	"strings"

	"github.com/winnowlabs/winnow/transforms/normalize/hftok"
	"github.com/winnowlabs/winnow/transforms/normalize/plsfix"
)

// Normalizer turns a document's text into the form a classifier sees. It is
// safe for concurrent use.
type Normalizer interface {
	// Name is the registry name ("potion", "ultrafine", ...).
	Name() string
	// Version changes whenever the output changes for some input; models
	// record it with the name and refuse a mismatch.
	Version() string
	// Normalize returns the normalized text.
	Normalize(text string) string
}

// Options configure New.
type Options struct {
	// Tokenizer is the path of a Hugging Face tokenizer.json, required by
	// the tokenizer-based normalizers (tokenizer, ultrafine, hyperfine,
	// hyperfine-code) and ignored by the others.
	Tokenizer string
}

// Names of the normalizers.
const (
	Newlines      = "newlines"
	Whitespace    = "whitespace"
	Plsfix        = "plsfix"
	Potion        = "potion"
	PotionCode    = "potion-code"
	Tokenizer     = "tokenizer"
	Ultrafine     = "ultrafine"
	Hyperfine     = "hyperfine"
	HyperfineCode = "hyperfine-code"
)

// spec describes one normalizer: its own revision (bumped when its own steps
// change) and how to build it.
type spec struct {
	revision  string
	plsfix    bool // built on plsfix: its version is part of the normalizer's
	tokenizer bool // needs Options.Tokenizer
	build     func(tok *hftok.Tokenizer) func(string) string
}

var registry = map[string]spec{
	Newlines:   {revision: "1", build: func(*hftok.Tokenizer) func(string) string { return newlines }},
	Whitespace: {revision: "1", build: func(*hftok.Tokenizer) func(string) string { return whitespace }},
	Plsfix:     {revision: "1", plsfix: true, build: func(*hftok.Tokenizer) func(string) string { return plsfix.Fix }},
	Potion:     {revision: "1", plsfix: true, build: func(*hftok.Tokenizer) func(string) string { return potion }},
	PotionCode: {revision: "1", plsfix: true, build: func(*hftok.Tokenizer) func(string) string { return potionCode }},
	Tokenizer: {revision: "1", plsfix: true, tokenizer: true, build: func(tok *hftok.Tokenizer) func(string) string {
		return func(s string) string { return tokenStrings(tok, s) }
	}},
	Ultrafine: {revision: "1", tokenizer: true, build: func(tok *hftok.Tokenizer) func(string) string {
		return func(s string) string { return ultrafine(tok, s) }
	}},
	Hyperfine: {revision: "1", plsfix: true, tokenizer: true, build: func(tok *hftok.Tokenizer) func(string) string {
		return func(s string) string { return hyperfine(tok, s, false) }
	}},
	HyperfineCode: {revision: "1", plsfix: true, tokenizer: true, build: func(tok *hftok.Tokenizer) func(string) string {
		return func(s string) string { return hyperfine(tok, s, true) }
	}},
}

// Names returns the registered normalizer names, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// NeedsTokenizer reports whether the named normalizer requires
// Options.Tokenizer.
func NeedsTokenizer(name string) bool { return registry[name].tokenizer }

// New returns the named normalizer. Tokenizer-based normalizers load
// opts.Tokenizer, which takes a moment: build a normalizer once and share it.
func New(name string, opts Options) (Normalizer, error) {
	sp, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("unknown normalizer %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	n := &normalizer{name: name, version: sp.revision}
	if sp.plsfix {
		n.version += "+plsfix." + plsfix.Version
	}
	if sp.tokenizer {
		if opts.Tokenizer == "" {
			return nil, fmt.Errorf("normalizer %q needs a tokenizer: give the path of a tokenizer.json", name)
		}
		tok, err := hftok.Load(opts.Tokenizer)
		if err != nil {
			return nil, fmt.Errorf("normalizer %q: %w", name, err)
		}
		n.tok = tok
		n.version += "+hftok." + hftok.Version
	}
	n.fn = sp.build(n.tok)
	return n, nil
}

type normalizer struct {
	name, version string
	tok           *hftok.Tokenizer
	fn            func(string) string
}

func (n *normalizer) Name() string                 { return n.name }
func (n *normalizer) Version() string              { return n.version }
func (n *normalizer) Normalize(text string) string { return n.fn(text) }

// Spec identifies a normalizer as datasets and model directories record it,
// so that inference applies exactly the normalization training saw.
type Spec struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Tokenizer is the tokenizer.json path used by tokenizer-based
	// normalizers, as given at training time; TokenizerHash is the SHA-256 of
	// its contents, which inference checks.
	Tokenizer     string `json:"tokenizer,omitempty"`
	TokenizerHash string `json:"tokenizer_hash,omitempty"`
}

// Describe returns n's Spec: name, version and, for tokenizer-based
// normalizers, the tokenizer path and the SHA-256 of its contents.
func Describe(n Normalizer) Spec {
	m := Spec{Name: n.Name(), Version: n.Version()}
	if nn, ok := n.(*normalizer); ok && nn.tok != nil {
		m.Tokenizer = nn.tok.Path()
		m.TokenizerHash = nn.tok.Hash()
	}
	return m
}

// newlines turns every newline into a space: exactly what fastText's own
// predict sees when a document is given as one line.
func newlines(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// whitespace collapses every run of whitespace to one space and trims.
func whitespace(s string) string { return collapseWhitespace(s) }
