package model2vec

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

// fixtures are the five Model2Vec format fixtures of testdata/model2vec.
var fixtures = []string{
	"test-model-float32", "test-model-float16", "test-model-int8",
	"test-model-sentence-transformers", "test-model-vocab-quantized",
}

func fixture(t testing.TB, name string) string {
	t.Helper()
	return testutil.Testdata(t, "model2vec/"+name)
}

func load(t testing.TB, name string) *Model {
	t.Helper()
	m, err := Load(fixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readJSON(t testing.TB, rel string, v any) {
	t.Helper()
	b, err := os.ReadFile(testutil.Testdata(t, "model2vec/"+rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

func encode(m *Model, text string) []float32 {
	v := make([]float32, m.Dim())
	m.Encode(v, text)
	return v
}

// maxDiff returns the largest absolute difference between got and want.
func maxDiff(t *testing.T, got []float32, want []float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("dimension %d, want %d", len(got), len(want))
	}
	d := 0.0
	for i := range got {
		d = max(d, math.Abs(float64(got[i])-want[i]))
	}
	return d
}

// TestLibraryOracles checks the embeddings that the Python library computed
// (model2vec-rs's fixtures): "hello world" and "hello" ×1000 with the
// float32 model (and its sentence-transformers copy), "hello" ×1000 with the
// vocabulary-quantized one.
func TestLibraryOracles(t *testing.T) {
	long := strings.TrimSuffix(strings.Repeat("hello ", 1000), " ")
	cases := []struct{ model, oracle, text string }{
		{"test-model-float32", "embeddings_short.json", "hello world"},
		{"test-model-float32", "embeddings_long.json", long},
		{"test-model-sentence-transformers", "embeddings_short.json", "hello world"},
		{"test-model-sentence-transformers", "embeddings_long.json", long},
		{"test-model-vocab-quantized", "embeddings_vocab_quantized.json", long},
	}
	for _, c := range cases {
		var want [][]float64
		readJSON(t, c.oracle, &want)
		if d := maxDiff(t, encode(load(t, c.model), c.text), want[0]); d > 1e-5 {
			t.Errorf("%s on %s: max difference %g", c.model, c.oracle, d)
		}
	}
}

// tokensOracle holds what testdata/model2vec/oracle.mjs computed with
// Hugging Face tokenizers: the texts and, per tokenizer of the fixtures,
// the ids StaticModel.tokenize gives.
type tokensOracle struct {
	Texts  []string `json:"texts"`
	Models map[string]struct {
		MedianTokenLength int     `json:"median_token_length"`
		UnkID             *int    `json:"unk_id"`
		IDs               [][]int `json:"ids"`
	} `json:"models"`
}

// idsOf names the oracle entry of each fixture's tokenizer: the four
// BERT-tokenizer fixtures share one tokenizer.json.
func idsOf(name string) string {
	if name == "test-model-vocab-quantized" {
		return name
	}
	return "test-model-float32"
}

func TestTokenizeMatchesLibrary(t *testing.T) {
	var o tokensOracle
	readJSON(t, "tokens_oracle.json", &o)
	for _, name := range fixtures {
		m := load(t, name)
		want := o.Models[idsOf(name)]
		if m.maxChars != MaxTokens*want.MedianTokenLength {
			t.Errorf("%s: texts cut at %d characters, want %d × %d", name, m.maxChars, MaxTokens, want.MedianTokenLength)
		}
		if (want.UnkID == nil) != (m.unk < 0) || (want.UnkID != nil && *want.UnkID != m.unk) {
			t.Errorf("%s: drops unknown id %d, want %v", name, m.unk, want.UnkID)
		}
		for i, text := range o.Texts {
			got := m.Tokenize(nil, text)
			w := make([]int32, len(want.IDs[i]))
			for k, id := range want.IDs[i] {
				w[k] = int32(id)
			}
			if !slices.Equal(got, w) {
				t.Errorf("%s text %d %.50q:\n got %v\nwant %v", name, i, text, got, w)
			}
		}
	}
}

// embeddingsOracle is testdata/model2vec/embeddings_oracle.json, written by
// encode_reference.py.
type embeddingsOracle struct {
	Models map[string][]struct {
		DType  string    `json:"dtype"`
		Values []float64 `json:"values"`
	} `json:"models"`
}

// TestEncodeMatchesLibrary compares Encode with the library's arithmetic on
// every text of the oracle (real documents in five languages and edge
// cases), for every fixture: within 1e-5 (the library sums a float32 table
// in float32), except that the library returns a float16 model's vectors in
// float16 (see the package documentation).
func TestEncodeMatchesLibrary(t *testing.T) {
	var o tokensOracle
	readJSON(t, "tokens_oracle.json", &o)
	var e embeddingsOracle
	readJSON(t, "embeddings_oracle.json", &e)
	for _, name := range fixtures {
		m := load(t, name)
		tol := 1e-5
		if name == "test-model-float16" {
			tol = 2e-3
		}
		worst := 0.0
		for i, text := range o.Texts {
			want := e.Models[name][i]
			d := maxDiff(t, encode(m, text), want.Values)
			if d > tol {
				t.Errorf("%s text %d %.50q: max difference %g (library dtype %s)", name, i, text, d, want.DType)
			}
			worst = max(worst, d)
		}
		t.Logf("%s: largest difference %.2g over %d texts", name, worst, len(o.Texts))
	}
}

func TestPoolFormula(t *testing.T) {
	table := []float32{
		1, 0, // token 0
		0, 2, // token 1
		3, 4, // token 2
	}
	weights := []float32{0.5, 1, 2}
	for _, c := range []struct {
		weights   []float32
		ids       []int32
		normalize bool
		want      []float32
	}{
		{nil, []int32{0, 1}, false, []float32{0.5, 1}},
		{nil, []int32{2, 2, 0}, false, []float32{7.0 / 3, 8.0 / 3}},
		{weights, []int32{0, 2}, false, []float32{3.25, 4}},
		{nil, []int32{2}, true, []float32{0.6, 0.8}},
		{weights, []int32{1, 1}, true, []float32{0, 1}},
		{weights, nil, true, []float32{0, 0}},
	} {
		got := []float32{9, 9}
		Pool(got, table, 2, c.weights, c.ids, c.normalize)
		for j := range got {
			if math.Abs(float64(got[j]-c.want[j])) > 1e-6 {
				t.Errorf("Pool(%v, weights %v, normalize %v) = %v, want %v", c.ids, c.weights, c.normalize, got, c.want)
				break
			}
		}
	}
}

// TestEncodeIsPoolOfDenseTable checks that the accessors give a trainer
// what Encode computes with: DenseTable (the mapping resolved), Weights and
// Tokenize.
func TestEncodeIsPoolOfDenseTable(t *testing.T) {
	var o tokensOracle
	readJSON(t, "tokens_oracle.json", &o)
	for _, name := range []string{"test-model-vocab-quantized", "test-model-int8"} {
		m := load(t, name)
		table, weights := m.DenseTable(), m.Weights()
		if len(table) != m.VocabSize()*m.Dim() || (name == "test-model-vocab-quantized") != (weights != nil) {
			t.Fatalf("%s: DenseTable of %d values, %d weights", name, len(table), len(weights))
		}
		for _, text := range o.Texts {
			want := make([]float32, m.Dim())
			Pool(want, table, m.Dim(), weights, m.Tokenize(nil, text), m.Normalize())
			if got := encode(m, text); !slices.Equal(got, want) {
				t.Errorf("%s: Encode(%.40q) differs from Pool on DenseTable", name, text)
			}
		}
	}
}

func TestEncodeBatch(t *testing.T) {
	var o tokensOracle
	readJSON(t, "tokens_oracle.json", &o)
	m := load(t, "test-model-vocab-quantized")
	texts := slices.Concat(o.Texts, o.Texts, o.Texts) // several chunks
	out := make([]float32, len(texts)*m.Dim())
	m.EncodeBatch(texts, out)
	for i, text := range texts {
		if !slices.Equal(out[i*m.Dim():(i+1)*m.Dim()], encode(m, text)) {
			t.Fatalf("EncodeBatch row %d differs from Encode", i)
		}
	}
	m.EncodeBatch(nil, nil)
}

func TestLayouts(t *testing.T) {
	want := encode(load(t, "test-model-float32"), "hello world test sentence")
	src := fixture(t, "test-model-sentence-transformers")
	nested := t.TempDir()
	copyFile(t, src+"/config_sentence_transformers.json", nested+"/config_sentence_transformers.json")
	copyFile(t, src+"/model.safetensors", nested+"/0_StaticEmbedding/model.safetensors")
	copyFile(t, src+"/tokenizer.json", nested+"/0_StaticEmbedding/tokenizer.json")
	for _, dir := range []string{src, nested} {
		m, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := encode(m, "hello world test sentence"); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", dir, got, want)
		}
	}

	// With both configs, the library reads config.json.
	both := t.TempDir()
	for _, f := range []string{"model.safetensors", "tokenizer.json"} {
		copyFile(t, fixture(t, "test-model-float32")+"/"+f, both+"/"+f)
	}
	writeFile(t, both+"/config_sentence_transformers.json", `{"normalize": true}`)
	writeFile(t, both+"/config.json", `{"model_type": "model2vec", "normalize": false}`)
	m, err := Load(both)
	if err != nil {
		t.Fatal(err)
	}
	if m.Normalize() {
		t.Error("config_sentence_transformers.json won over config.json")
	}
	if v := encode(m, "hello world"); math.Abs(norm(v)-1) < 1e-3 {
		t.Errorf("unnormalized vector has norm %g", norm(v))
	}
}

func norm(v []float32) float64 {
	s := 0.0
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(b))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(path[:strings.LastIndexByte(path, '/')], 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEmptyAndUnknownTexts(t *testing.T) {
	m := load(t, "test-model-float32")
	for _, text := range []string{"", "   ", "[UNK]", "☃"} {
		if ids := m.Tokenize(nil, text); len(ids) != 0 {
			t.Errorf("Tokenize(%q) = %v", text, ids)
		}
		if v := encode(m, text); slices.ContainsFunc(v, func(x float32) bool { return x != 0 }) {
			t.Errorf("Encode(%q) = %v, want zeros", text, v)
		}
	}
	// A Unigram model names no unknown token: the library keeps its id.
	if ids := load(t, "test-model-vocab-quantized").Tokenize(nil, "☃"); !slices.Equal(ids, []int32{1}) {
		t.Errorf("vocab-quantized Tokenize(☃) = %v, want [1]", ids)
	}
}

func ExampleModel_Encode() {
	m, err := Load("../../testdata/model2vec/test-model-float32")
	if err != nil {
		panic(err)
	}
	v := make([]float32, m.Dim())
	m.Encode(v, "hello world")
	fmt.Printf("%.4f\n", v)
	// Output: [-0.3935 -0.9193]
}

// TestEncodeAllocatesNothing checks that a warm Encode allocates nothing,
// on every text of the oracle (multilingual, emoji, CJK and Hangul, long
// words), with the WordPiece and the Unigram tokenizer.
func TestEncodeAllocatesNothing(t *testing.T) {
	if raceEnabled || testing.CoverMode() != "" {
		t.Skip("allocation counts are not meaningful under the race detector or coverage")
	}
	var o tokensOracle
	readJSON(t, "tokens_oracle.json", &o)
	for _, name := range []string{"test-model-float32", "test-model-vocab-quantized"} {
		m := load(t, name)
		v := make([]float32, m.Dim())
		for i, text := range o.Texts {
			if a := testing.AllocsPerRun(5, func() { m.Encode(v, text) }); a > 0 {
				t.Errorf("%s: Encode of text %d (%.30q) allocates %v times", name, i, text, a)
			}
		}
	}
}
