package model2vec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/models/safetensors"
)

// badModel copies the float32 fixture (vocabulary 29,528, dimension 2) to a
// temporary directory, replacing model.safetensors by tensors when given,
// and returns the directory.
func badModel(t *testing.T, tensors []safetensors.Tensor, config string) string {
	t.Helper()
	dir := t.TempDir()
	src := fixture(t, "test-model-float32")
	copyFile(t, src+"/tokenizer.json", dir+"/tokenizer.json")
	copyFile(t, src+"/model.safetensors", dir+"/model.safetensors")
	copyFile(t, src+"/config.json", dir+"/config.json")
	if tensors != nil {
		if err := safetensors.WriteFile(dir+"/model.safetensors", tensors, nil); err != nil {
			t.Fatal(err)
		}
	}
	if config != "" {
		writeFile(t, dir+"/config.json", config)
	}
	return dir
}

const fixtureVocab = 29528

func f32(n int) []float32 { return make([]float32, n) }

func ints(n int, v int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestLoadErrors(t *testing.T) {
	table := safetensors.Tensor{Name: "embeddings", Shape: []int{fixtureVocab, 2}, F32: f32(fixtureVocab * 2)}
	cases := []struct {
		name string
		dir  func(t *testing.T) string
		want []string // substrings of the error
	}{
		{"missing directory", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, []string{"nope"}},
		{"empty directory", func(t *testing.T) string { return t.TempDir() },
			[]string{"config.json", "config_sentence_transformers.json", "0_StaticEmbedding/model.safetensors"}},
		{"no tokenizer.json", func(t *testing.T) string {
			dir := badModel(t, nil, "")
			os.Remove(dir + "/tokenizer.json")
			return dir
		}, []string{"lacks tokenizer.json"}},
		{"no embeddings tensor", func(t *testing.T) string {
			return badModel(t, []safetensors.Tensor{{Name: "embedding.weight", Shape: table.Shape, F32: table.F32}}, "")
		}, []string{"model.safetensors", `no tensor "embeddings"`, "embedding.weight"}},
		{"integer table", func(t *testing.T) string {
			return badModel(t, []safetensors.Tensor{{Name: "embeddings", Shape: table.Shape, DType: safetensors.I32, I64: ints(fixtureVocab*2, 1)}}, "")
		}, []string{"model.safetensors", `"embeddings" is I32`}},
		{"one-dimensional table", func(t *testing.T) string {
			return badModel(t, []safetensors.Tensor{{Name: "embeddings", Shape: []int{fixtureVocab * 2}, F32: table.F32}}, "")
		}, []string{`"embeddings" has shape [59056]`}},
		{"rows and vocabulary disagree", func(t *testing.T) string {
			return badModel(t, []safetensors.Tensor{{Name: "embeddings", Shape: []int{100, 2}, F32: f32(200)}}, "")
		}, []string{`"embeddings" has 100 rows`, "tokenizer.json has 29528 tokens"}},
		{"weights of the wrong length", func(t *testing.T) string {
			return badModel(t, []safetensors.Tensor{table, {Name: "weights", Shape: []int{7}, F32: f32(7)}}, "")
		}, []string{`"weights" has shape [7]`, "[29528]"}},
		{"integer weights", func(t *testing.T) string {
			return badModel(t, []safetensors.Tensor{table, {Name: "weights", Shape: []int{fixtureVocab}, I64: ints(fixtureVocab, 1)}}, "")
		}, []string{`"weights" is I64`}},
		{"mapping of the wrong length", func(t *testing.T) string {
			return badModel(t, []safetensors.Tensor{table, {Name: "mapping", Shape: []int{3}, I64: ints(3, 0)}}, "")
		}, []string{`"mapping" has shape [3]`}},
		{"mapping out of range", func(t *testing.T) string {
			small := safetensors.Tensor{Name: "embeddings", Shape: []int{4, 2}, F32: f32(8)}
			return badModel(t, []safetensors.Tensor{small, {Name: "mapping", Shape: []int{fixtureVocab}, DType: safetensors.I32, I64: ints(fixtureVocab, 4)}}, "")
		}, []string{`"mapping" sends token 0 to row 4`, "4 rows"}},
		{"float mapping", func(t *testing.T) string {
			return badModel(t, []safetensors.Tensor{table, {Name: "mapping", Shape: []int{fixtureVocab}, F32: f32(fixtureVocab)}}, "")
		}, []string{`"mapping" is F32, not an integer tensor`}},
		{"normalize not a boolean", func(t *testing.T) string { return badModel(t, nil, `{"normalize": "yes"}`) },
			[]string{"config.json", `"normalize" is "yes"`}},
		{"config not JSON", func(t *testing.T) string { return badModel(t, nil, `{normalize`) }, []string{"config.json"}},
		{"truncated safetensors", func(t *testing.T) string {
			dir := badModel(t, nil, "")
			b, _ := os.ReadFile(dir + "/model.safetensors")
			writeFile(t, dir+"/model.safetensors", string(b[:len(b)/2]))
			return dir
		}, []string{"model.safetensors", `"embeddings"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(c.dir(t))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tok := fixture(t, "test-model-float32") + "/tokenizer.json"
	if _, err := New(tok, f32(10), 2, nil, true); err == nil || !strings.Contains(err.Error(), "29528 tokens × dimension 2") {
		t.Errorf("New with a short table: %v", err)
	}
	if _, err := New(tok, f32(fixtureVocab*2), 2, f32(5), true); err == nil || !strings.Contains(err.Error(), "5 weights for 29528 tokens") {
		t.Errorf("New with short weights: %v", err)
	}
	if _, err := New(tok, nil, 0, nil, true); err == nil {
		t.Error("New with dimension 0 succeeded")
	}
	if _, err := New(filepath.Join(t.TempDir(), "tokenizer.json"), f32(2), 2, nil, true); err == nil {
		t.Error("New with a missing tokenizer succeeded")
	}
}

// TestSaveRoundTrip saves loaded and newly built models and reloads them:
// the tensors come back bit for bit, the vectors identical, and the files
// are those the library reads.
func TestSaveRoundTrip(t *testing.T) {
	var o tokensOracle
	readJSON(t, "tokens_oracle.json", &o)
	trained := func() *Model {
		src := load(t, "test-model-float32")
		table := src.DenseTable()
		weights := make([]float32, src.VocabSize())
		for i := range table {
			table[i] *= 1 + float32(i%7)/10
		}
		for i := range weights {
			weights[i] = 0.25 + float32(i%5)/8
		}
		m, err := New(fixture(t, "test-model-float32")+"/tokenizer.json", table, src.Dim(), weights, false)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for name, m := range map[string]*Model{
		"vocab-quantized":       load(t, "test-model-vocab-quantized"),
		"float16":               load(t, "test-model-float16"),
		"sentence-transformers": load(t, "test-model-sentence-transformers"),
		"trained":               trained(),
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "saved")
			if err := m.Save(dir); err != nil {
				t.Fatal(err)
			}
			back, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(back.table, m.table) || !slices.Equal(back.mapping, m.mapping) || !slices.Equal(back.weights, m.weights) ||
				back.Normalize() != m.Normalize() || back.TokenizerHash() != m.TokenizerHash() {
				t.Fatal("reloaded model differs")
			}
			for _, text := range o.Texts {
				if !slices.Equal(encode(back, text), encode(m, text)) {
					t.Fatalf("reloaded model encodes %.40q differently", text)
				}
			}
			f, err := safetensors.Open(dir + "/model.safetensors")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if info := f.Info("embeddings"); info.DType != safetensors.F32 || !slices.Equal(info.Shape, []int{m.rows, m.dim}) {
				t.Errorf("embeddings saved as %s %v", info.DType, info.Shape)
			}
			if info := f.Info("mapping"); (info != nil) != (m.mapping != nil) || (info != nil && info.DType != safetensors.I32) {
				t.Errorf("mapping saved as %+v", info)
			}
			var config map[string]any
			b, _ := os.ReadFile(dir + "/config.json")
			if err := json.Unmarshal(b, &config); err != nil {
				t.Fatal(err)
			}
			if config["normalize"] != m.Normalize() || config["embedding_dtype"] != "float32" {
				t.Errorf("config.json = %s", b)
			}
			if _, vq := config["vocabulary_quantization"]; vq != (m.mapping != nil) {
				t.Errorf("config.json vocabulary_quantization = %v", config["vocabulary_quantization"])
			}
			for _, f := range []string{"tokenizer.json", "modules.json"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Error(err)
				}
			}
		})
	}
}
