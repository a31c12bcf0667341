package hftok

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

// tokensOracle is testdata/model2vec/tokens_oracle.json: the ids Hugging
// Face tokenizers gives for texts (see testdata/model2vec/README.md).
type tokensOracle struct {
	Texts      []string `json:"texts"`
	Tokenizers map[string]struct {
		Path   string                     `json:"path"`
		Patch  map[string]json.RawMessage `json:"patch"`
		Inline json.RawMessage            `json:"inline"`
		Texts  []int                      `json:"texts"`
		IDs    [][]int                    `json:"ids"`
	} `json:"tokenizers"`
}

func readTokensOracle(t *testing.T) *tokensOracle {
	t.Helper()
	b, err := os.ReadFile(testutil.Testdata(t, "model2vec/tokens_oracle.json"))
	if err != nil {
		t.Fatal(err)
	}
	var o tokensOracle
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatal(err)
	}
	return &o
}

// TestEncodersAgreeWithHuggingFace compares the ids of every tokenizer of
// the oracle: the BERT fixture, Model2Vec's Unigram fixture, variants of
// its normalizer and pre-tokenizer, and small Unigram models exercising
// fused unknown characters, ties, repeated pieces and byte fallback.
func TestEncodersAgreeWithHuggingFace(t *testing.T) {
	o := readTokensOracle(t)
	for name, tc := range o.Tokenizers {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokenizer.json")
			var content []byte
			switch {
			case tc.Inline != nil:
				content = tc.Inline
			default:
				base, err := os.ReadFile(testutil.Testdata(t, filepath.Join("model2vec", tc.Path)))
				if err != nil {
					t.Fatal(err)
				}
				var spec map[string]json.RawMessage
				if err := json.Unmarshal(base, &spec); err != nil {
					t.Fatal(err)
				}
				for k, v := range tc.Patch {
					spec[k] = v
				}
				if content, err = json.Marshal(spec); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(path, content, 0o644); err != nil {
				t.Fatal(err)
			}
			tok, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if tok.bert == nil && tok.uni == nil {
				t.Fatal("no exact encoder for this tokenizer")
			}
			for k, i := range tc.Texts {
				if got := tok.Encode(o.Texts[i]); !slices.Equal(got, tc.IDs[k]) && !(len(got) == 0 && len(tc.IDs[k]) == 0) {
					t.Errorf("text %d %.60q:\n got %v\nwant %v", i, o.Texts[i], got, tc.IDs[k])
				}
			}
		})
	}
}

func TestUnkToken(t *testing.T) {
	for dir, want := range map[string]string{"test-model-float32": "[UNK]", "test-model-vocab-quantized": ""} {
		tok, err := Load(testutil.Testdata(t, "model2vec/"+dir+"/tokenizer.json"))
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.UnkToken(); got != want {
			t.Errorf("%s: UnkToken = %q, want %q", dir, got, want)
		}
	}
}

func TestTranslateRegex(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{`\s+`, whitespaceRuns, true},
		{`[^\s]+`, `[^\t-\r\x{85}\p{Z}]+`, true},
		{`\S+|[0-9]+`, `[^\t-\r\x{85}\p{Z}]+|[0-9]+`, true},
		{`(?:ab)+\.`, `(?:ab)+\.`, true},
		{`^\s+`, "", false},
		{`\w+`, "", false},
		{`(?=a)`, "", false},
		{`[[:alpha:]]`, "", false},
		{`[^\S]`, "", false},
	} {
		re, ok := translateRegex(c.in)
		if ok != c.ok || (ok && re.String() != c.want) {
			t.Errorf("translateRegex(%q) = %v, %v; want %q, %v", c.in, re, ok, c.want, c.ok)
		}
	}
}

// TestAppendEncodePrefix checks that the limited encoding is the full one
// with the dropped id removed, cut at the limit, for the BERT and Unigram
// encoders and the library's.
func TestAppendEncodePrefix(t *testing.T) {
	o := readTokensOracle(t)
	base, err := os.ReadFile(testutil.Testdata(t, "model2vec/test-model-vocab-quantized/tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	// An Nmt normalizer is not reproduced: this one goes to the library.
	lib := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(lib, []byte(strings.Replace(string(base), `"normalizer":{`, `"normalizer":{"type":"Nmt"},"x":{`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		testutil.Testdata(t, "model2vec/test-model-float32/tokenizer.json"),
		testutil.Testdata(t, "model2vec/test-model-vocab-quantized/tokenizer.json"),
		lib,
	} {
		tok, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		texts := o.Texts
		if path == lib {
			if tok.uni != nil || tok.bert != nil {
				t.Fatal("the Nmt tokenizer got an own encoder")
			}
			texts = []string{o.Texts[0], o.Texts[31], o.Texts[33]} // the library is slow
		}
		for _, text := range texts {
			full := tok.Encode(text)
			for _, drop := range []int{-1, 1} {
				kept := slices.DeleteFunc(slices.Clone(full), func(id int) bool { return id == drop })
				for _, n := range []int{-1, 0, 7, 512, len(kept)} {
					want := kept
					if n >= 0 && n < len(kept) {
						want = kept[:n]
					}
					prefix := []int{42}
					got := tok.AppendEncodePrefix(prefix, text, n, drop)
					if got[0] != 42 || !slices.Equal(got[1:], want) {
						t.Fatalf("%s: AppendEncodePrefix(%.30q, %d, %d) = %v, want %v", path, text, n, drop, got[1:], want)
					}
				}
			}
		}
	}
}
