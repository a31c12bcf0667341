// Package hftok tokenizes text with a Hugging Face tokenizer.json, as the
// tokenizer-based normalizers need it: the token ids of a text without
// special tokens, the string of each token, and the text of each id decoded
// on its own; and, for encoders, the special tokens its post-processor puts
// around a sequence.
//
// The file is parsed by github.com/gomlx/go-huggingface (tokenizers/hftokenizer),
// which also encodes and decodes every pipeline it supports. For the BERT
// pipeline (BertNormalizer, BertPreTokenizer, WordPiece; bert-base-uncased and
// its relatives) this package encodes with its own linear-time implementation
// on the parsed vocabulary, following Hugging Face tokenizers:
//
//   - the library's BERT pre-tokenizer is quadratic in the text length
//     (0.07 MB/s on web documents), far too slow for a filter over a corpus;
//   - the library's BertNormalizer keeps format (Cf), private-use and
//     unassigned characters that Hugging Face's clean_text removes (soft
//     hyphens, zero-width spaces), treats only Zs, \t, \n and \r as
//     whitespace, and limits words to max_input_chars_per_word bytes instead
//     of characters.
//
// Tests check that both encoders agree on real text that avoids those
// differences.
//
// For Unigram models (SentencePiece's Viterbi segmentation, which
// go-huggingface replaces by a greedy longest match, quadratic in the word
// length) this package also encodes itself, as Hugging Face tokenizers does,
// when every normalizer and pre-tokenizer is one it reproduces: BertNormalizer,
// Lowercase, Strip, StripAccents, NFC/NFD/NFKC/NFKD, Prepend, Replace (with a
// string, or a regular expression whose Oniguruma and Go meanings agree,
// \s+ included), WhitespaceSplit and Metaspace (its "first" scheme only
// without a normalizer). That covers the tokenizers Model2Vec's distillation
// writes. Precompiled (sentencepiece's character map) and the other
// components fall back to the library. Tests compare both encoders with
// Hugging Face tokenizers' own output.
//
// DecodeID follows Hugging Face's Tokenizer.decode([id]) with its default
// skip_special_tokens=True: special tokens decode to "", and with the
// WordPiece decoder a single continuation piece keeps its prefix ("##ing"
// decodes to "##ing": the decoder strips the prefix only from tokens after
// the first, and cleanup changes nothing in a single token). Other decoders
// are the library's.
package hftok

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/go-huggingface/tokenizers/api"
	"github.com/gomlx/go-huggingface/tokenizers/hftokenizer"

	"github.com/winnowlabs/winnow/transforms/storage"
)

// Version identifies the tokenization behaviour of this package (for a given
// tokenizer.json); it changes whenever tokens or decodings change.
const Version = "2"

// Tokenizer encodes text with one tokenizer.json. It is safe for concurrent
// use.
type Tokenizer struct {
	path    string
	hash    string
	lib     *hftokenizer.Tokenizer
	tokens  []string // id → token string
	decoded []string // id → the id decoded on its own
	bert    *bertEncoder
	uni     *unigramEncoder
	unk     string
	// prefix and suffix are the special tokens the post-processor puts
	// around a single sequence; specialsErr says why they are unknown.
	prefix, suffix []int
	specialsErr    error
}

// Load reads a tokenizer.json, local or on an object store (gs://, s3://).
// A tokenizer_config.json beside it, when present, supplies the
// special-token names the library uses.
func Load(path string) (*Tokenizer, error) {
	if !storage.IsLocal(path) {
		return loadRemote(path)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read tokenizer: %w", err)
	}
	cfg := &api.Config{}
	cfgPath := filepath.Join(filepath.Dir(path), "tokenizer_config.json")
	if _, err := os.Stat(cfgPath); err == nil {
		if cfg, err = api.ParseConfigFile(cfgPath); err != nil {
			return nil, fmt.Errorf("parse %s: %w", cfgPath, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("stat %s: %w", cfgPath, err)
	}
	return fromContent(path, content, cfg)
}

// loadRemote is Load for a tokenizer.json on an object store.
func loadRemote(path string) (*Tokenizer, error) {
	ctx := context.Background()
	content, err := storage.ReadFile(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("read tokenizer: %w", err)
	}
	cfg := &api.Config{}
	cfgPath := storage.Join(storage.Dir(path), "tokenizer_config.json")
	b, ok, err := storage.ReadFileIfExists(ctx, cfgPath)
	if err != nil {
		return nil, err
	}
	if ok {
		if cfg, err = api.ParseConfigContent(b); err != nil {
			return nil, fmt.Errorf("parse %s: %w", cfgPath, err)
		}
	}
	return fromContent(path, content, cfg)
}

// fromContent builds the tokenizer of a tokenizer.json's content.
func fromContent(path string, content []byte, cfg *api.Config) (*Tokenizer, error) {
	lib, err := hftokenizer.NewFromContent(cfg, content)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", path, err)
	}
	if err := lib.With(api.EncodeOptions{AddSpecialTokens: false}); err != nil {
		return nil, fmt.Errorf("configure tokenizer %s: %w", path, err)
	}
	var spec hftokenizer.TokenizerJSON
	if err := json.Unmarshal(content, &spec); err != nil {
		return nil, fmt.Errorf("parse tokenizer %s: %w", path, err)
	}
	sum := sha256.Sum256(content)
	t := &Tokenizer{path: path, hash: hex.EncodeToString(sum[:]), lib: lib}
	if err := t.buildVocab(&spec); err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", path, err)
	}
	t.bert = newBertEncoder(&spec, t.tokens)
	if t.uni, err = newUnigramEncoder(content, &spec); err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", path, err)
	}
	switch spec.Model.Type {
	case "WordPiece", "BPE", "WordLevel":
		t.unk = spec.Model.UnkToken
	}
	t.prefix, t.suffix, t.specialsErr = singleSpecials(spec.PostProcessor)
	return t, nil
}

// singleSpecials returns the special tokens a post-processor adds before and
// after a single sequence.
func singleSpecials(pp *hftokenizer.PostProcessor) (prefix, suffix []int, err error) {
	if pp == nil {
		return nil, nil, errors.New("no post_processor")
	}
	switch pp.Type {
	case "TemplateProcessing":
		seen := false
		for _, item := range pp.Single {
			switch {
			case item.Sequence != nil:
				if seen {
					return nil, nil, errors.New("post_processor: the single template repeats the sequence")
				}
				seen = true
			case item.SpecialToken != nil:
				st, ok := pp.SpecialTokens[item.SpecialToken.ID]
				if !ok || len(st.IDs) == 0 {
					return nil, nil, fmt.Errorf("post_processor: special token %q has no ids", item.SpecialToken.ID)
				}
				if seen {
					suffix = append(suffix, st.IDs...)
				} else {
					prefix = append(prefix, st.IDs...)
				}
			}
		}
		if !seen {
			return nil, nil, errors.New("post_processor: the single template has no sequence")
		}
		return prefix, suffix, nil
	case "BertProcessing", "RobertaProcessing":
		cls, err := tokenIDPair("cls", pp.Cls)
		if err != nil {
			return nil, nil, err
		}
		sep, err := tokenIDPair("sep", pp.Sep)
		if err != nil {
			return nil, nil, err
		}
		return []int{cls}, []int{sep}, nil
	}
	return nil, nil, fmt.Errorf("post_processor of type %q is not supported", pp.Type)
}

func (t *Tokenizer) buildVocab(spec *hftokenizer.TokenizerJSON) error {
	n := 0
	for _, id := range spec.Model.Vocab {
		n = max(n, id+1)
	}
	for _, at := range spec.AddedTokens {
		n = max(n, at.ID+1)
	}
	if n == 0 {
		return errors.New("empty vocabulary")
	}
	t.tokens = make([]string, n)
	for tok, id := range spec.Model.Vocab {
		if id < 0 {
			return fmt.Errorf("negative token id %d", id)
		}
		t.tokens[id] = tok
	}
	special := make([]bool, n)
	for _, at := range spec.AddedTokens {
		t.tokens[at.ID] = at.Content
		special[at.ID] = at.Special
	}
	wordPiece := spec.Decoder != nil && spec.Decoder.Type == "WordPiece"
	t.decoded = make([]string, n)
	for id, tok := range t.tokens {
		switch {
		case special[id]:
			// skipped by decode's default skip_special_tokens=True
		case wordPiece:
			t.decoded[id] = tok
		default:
			t.decoded[id] = t.lib.Decode([]int{id})
		}
	}
	return nil
}

// Path returns the tokenizer.json path given to Load.
func (t *Tokenizer) Path() string { return t.path }

// Hash returns the hex SHA-256 of the tokenizer.json contents.
func (t *Tokenizer) Hash() string { return t.hash }

// VocabSize returns the number of token ids.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// Encode returns the token ids of text, without special tokens around it.
func (t *Tokenizer) Encode(text string) []int {
	return t.AppendEncode(nil, text)
}

// AppendEncode appends the token ids of text to dst.
func (t *Tokenizer) AppendEncode(dst []int, text string) []int {
	return t.AppendEncodePrefix(dst, text, -1, -1)
}

// AppendEncodePrefix appends to dst the first n token ids of text (all of
// them when n < 0), leaving out every id equal to drop (none when drop < 0),
// and stops encoding once it has them: a long text costs only the words
// that reach the limit.
func (t *Tokenizer) AppendEncodePrefix(dst []int, text string, n, drop int) []int {
	switch {
	case t.bert != nil:
		return t.bert.appendEncode(dst, text, n, drop)
	case t.uni != nil:
		return t.uni.appendEncode(dst, text, n, drop)
	}
	mark := len(dst)
	for _, id := range t.lib.Encode(text) {
		if len(dst)-mark == n {
			break
		}
		if id != drop {
			dst = append(dst, id)
		}
	}
	return dst
}

// UnkToken returns the unknown token of a WordPiece, BPE or WordLevel model
// (Hugging Face's tokenizer.model.unk_token), or "" when the model has none:
// BPE may lack one, and a Unigram model names its unknown piece by id only.
func (t *Tokenizer) UnkToken() string { return t.unk }

// tokenIDPair parses a post-processor's ["[CLS]", 101] field.
func tokenIDPair(name string, raw json.RawMessage) (int, error) {
	var pair [2]json.RawMessage
	var id int
	if err := json.Unmarshal(raw, &pair); err != nil || json.Unmarshal(pair[1], &id) != nil {
		return 0, fmt.Errorf("post_processor: %s is not a [token, id] pair: %s", name, raw)
	}
	return id, nil
}

// SingleSpecials returns the special token ids that Hugging Face's
// post-processor puts before and after a single sequence when it encodes
// with add_special_tokens=True ([CLS] and [SEP] for BERT). It supports the
// TemplateProcessing, BertProcessing and RobertaProcessing post-processors.
func (t *Tokenizer) SingleSpecials() (prefix, suffix []int, err error) {
	if t.specialsErr != nil {
		return nil, nil, fmt.Errorf("tokenizer %s: %w", t.path, t.specialsErr)
	}
	return t.prefix, t.suffix, nil
}

// Token returns the string of token id ("##ing" for a WordPiece
// continuation), or "" for an unknown id.
func (t *Tokenizer) Token(id int) string {
	if id < 0 || id >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// DecodeID returns id decoded on its own, as Hugging Face's
// tokenizer.decode([id]) does (see the package documentation).
func (t *Tokenizer) DecodeID(id int) string {
	if id < 0 || id >= len(t.decoded) {
		return ""
	}
	return t.decoded[id]
}

// libraryEncode encodes text with go-huggingface alone (tests compare it
// with the BERT encoder).
func (t *Tokenizer) libraryEncode(text string) []int { return t.lib.Encode(text) }
