package encoder

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/models/safetensors"
)

// readTensors returns every tensor of a safetensors file as float32.
func readTensors(t testing.TB, path string) []safetensors.Tensor {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []safetensors.Tensor
	for _, name := range f.Names() {
		data, shape, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, safetensors.Tensor{Name: name, Shape: shape, F32: data})
	}
	return out
}

// withWeights copies model directory src and replaces its weights by
// edit's result on its tensors, written as dtype.
func withWeights(t testing.TB, src string, dtype safetensors.DType, edit func([]safetensors.Tensor) []safetensors.Tensor) string {
	t.Helper()
	dir := copyDir(t, src)
	tensors := edit(readTensors(t, filepath.Join(src, weightsFile)))
	for i := range tensors {
		if tensors[i].F32 != nil {
			tensors[i].DType = dtype
		}
	}
	if err := safetensors.WriteFile(filepath.Join(dir, weightsFile), tensors, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func same(ts []safetensors.Tensor) []safetensors.Tensor { return ts }

// writeBF16 writes tensors as a BF16 safetensors file (the package's writer
// has no BF16), rounding to nearest even.
func writeBF16(t testing.TB, path string, tensors []safetensors.Tensor) {
	t.Helper()
	header := map[string]any{}
	var data []byte
	for _, ts := range tensors {
		start := len(data)
		for _, v := range ts.F32 {
			b := math.Float32bits(v)
			b += 0x7fff + (b>>16)&1
			data = binary.LittleEndian.AppendUint16(data, uint16(b>>16))
		}
		header[ts.Name] = map[string]any{"dtype": "BF16", "shape": ts.Shape, "data_offsets": []int{start, len(data)}}
	}
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(append(out, h...), data...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestHalfPrecisionWeights(t *testing.T) {
	r := ref(t)
	f16 := withWeights(t, classifierDir, safetensors.F16, same)
	bf16 := copyDir(t, classifierDir)
	writeBF16(t, filepath.Join(bf16, weightsFile), readTensors(t, filepath.Join(classifierDir, weightsFile)))
	// The reference ran on the float32 weights: rounding them to 11 (F16)
	// or 8 (BF16) significant bits moves the scores (about 1.5) by up to
	// about 0.5% and 2%.
	for _, c := range []struct {
		dir string
		tol float64
	}{{f16, 1e-2}, {bf16, 5e-2}} {
		score, err := load(t, c.dir, Options{}).Predict(r.Texts)
		if err != nil {
			t.Fatal(err)
		}
		checkClose(t, c.dir, score, r.Classifier.Score, c.tol)
	}
}

func TestShardedCheckpointAndPrefixes(t *testing.T) {
	r := ref(t)
	want := compute1(t, load(t, classifierDir, Options{}), r.Texts, OutputLogits)

	// Two shards and an index, as transformers writes large checkpoints.
	sharded := copyDir(t, classifierDir)
	os.Remove(filepath.Join(sharded, weightsFile))
	all := readTensors(t, filepath.Join(classifierDir, weightsFile))
	weightMap := map[string]string{}
	var first, second []safetensors.Tensor
	for _, ts := range all {
		if strings.Contains(ts.Name, "layer.1.") || strings.HasPrefix(ts.Name, "classifier") {
			second = append(second, ts)
			weightMap[ts.Name] = "model-00002-of-00002.safetensors"
		} else {
			first = append(first, ts)
			weightMap[ts.Name] = "model-00001-of-00002.safetensors"
		}
	}
	for name, part := range map[string][]safetensors.Tensor{"model-00001-of-00002.safetensors": first, "model-00002-of-00002.safetensors": second} {
		if err := safetensors.WriteFile(filepath.Join(sharded, name), part, nil); err != nil {
			t.Fatal(err)
		}
	}
	index, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 0}, "weight_map": weightMap})
	writeFile(t, filepath.Join(sharded, indexFile), string(index))

	// The encoder's tensors without "bert.", as some conversions save them.
	bare := withWeights(t, classifierDir, safetensors.F32, func(ts []safetensors.Tensor) []safetensors.Tensor {
		for i := range ts {
			ts[i].Name = strings.TrimPrefix(ts[i].Name, "bert.")
		}
		return ts
	})
	// TensorFlow-converted LayerNorm names.
	gamma := withWeights(t, classifierDir, safetensors.F32, func(ts []safetensors.Tensor) []safetensors.Tensor {
		for i := range ts {
			if strings.Contains(ts[i].Name, "LayerNorm.") {
				ts[i].Name = strings.Replace(strings.Replace(ts[i].Name, ".weight", ".gamma", 1), ".bias", ".beta", 1)
			}
		}
		return ts
	})
	for _, dir := range []string{sharded, bare, gamma} {
		got := compute1(t, load(t, dir, Options{}), r.Texts, OutputLogits)
		if !slices.Equal(got, want) {
			t.Errorf("%s: outputs differ from the single-file checkpoint's", dir)
		}
	}
}

func TestPoolerAndUnusedTensors(t *testing.T) {
	r := ref(t)
	m := load(t, classifierDir, Options{})
	p := m.Pooler()
	if p == nil || p.Out != 32 || p.In != 32 || len(p.Weight) != 32*32 || len(p.Bias) != 32 {
		t.Fatalf("Pooler() = %+v", p)
	}
	// The pooler applied in plain Go to the [CLS] states gives the pooled
	// output.
	cls := compute1(t, m, r.Texts, OutputCLS)
	pooled := make([]float32, len(cls))
	for i := 0; i < len(cls); i += 32 {
		for o := range 32 {
			s := float64(p.Bias[o])
			for k := range 32 {
				s += float64(p.Weight[o*32+k]) * float64(cls[i+k])
			}
			pooled[i+o] = float32(math.Tanh(s))
		}
	}
	checkClose(t, "pooler on cls", pooled, r.Classifier.Pooled, parityTol)

	dir := withWeights(t, embedderDir, safetensors.F32, func(ts []safetensors.Tensor) []safetensors.Tensor {
		ts = slices.DeleteFunc(ts, func(x safetensors.Tensor) bool { return strings.HasPrefix(x.Name, "pooler.") })
		return append(ts, safetensors.Tensor{Name: "cls.predictions.bias", Shape: []int{3}, F32: []float32{1, 2, 3}},
			safetensors.Tensor{Name: "embeddings.position_ids", Shape: []int{1, 3}, I64: []int64{0, 1, 2}})
	})
	m = load(t, dir, Options{})
	if m.Pooler() != nil {
		t.Error("Pooler() of a model without one is not nil")
	}
	if _, err := m.Compute(r.Texts[:1], OutputPooled); err == nil || !strings.Contains(err.Error(), "no pooler") {
		t.Errorf("Compute(OutputPooled) without a pooler: %v", err)
	}
	if u := m.UnusedTensors(); !slices.Equal(u, []string{"cls.predictions.bias"}) {
		t.Errorf("UnusedTensors = %q", u)
	}
	emb, err := m.Predict(r.Texts)
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "mean without pooler", emb, r.Embedder.Mean, parityTol)
}

func TestLoadErrors(t *testing.T) {
	drop := func(name string) func([]safetensors.Tensor) []safetensors.Tensor {
		return func(ts []safetensors.Tensor) []safetensors.Tensor {
			return slices.DeleteFunc(ts, func(x safetensors.Tensor) bool { return x.Name == name })
		}
	}
	editConfig := func(src string, edit func(map[string]any)) string {
		dir := copyDir(t, src)
		b, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := json.Unmarshal(b, &cfg); err != nil {
			t.Fatal(err)
		}
		edit(cfg)
		b, _ = json.Marshal(cfg)
		writeFile(t, filepath.Join(dir, "config.json"), string(b))
		return dir
	}
	withFile := func(src, name, content string) string {
		dir := copyDir(t, src)
		writeFile(t, filepath.Join(dir, name), content)
		return dir
	}
	withoutFile := func(src, name string) string {
		dir := copyDir(t, src)
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	cases := []struct {
		name, dir string
		want      []string
	}{
		{"missing tensor", withWeights(t, classifierDir, safetensors.F32, drop("bert.encoder.layer.1.output.dense.weight")),
			[]string{`"bert.encoder.layer.1.output.dense.weight" is missing`, weightsFile}},
		{"missing classifier", withWeights(t, classifierDir, safetensors.F32, drop("classifier.bias")),
			[]string{`"classifier.bias" is missing`}},
		{"missing pooler of a classifier", withWeights(t, classifierDir, safetensors.F32, drop("bert.pooler.dense.weight")),
			[]string{`"bert.pooler.dense.weight" is missing`}},
		{"misshapen tensor", withWeights(t, classifierDir, safetensors.F32, func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i := range ts {
				if ts[i].Name == "bert.encoder.layer.0.intermediate.dense.bias" {
					ts[i].Shape, ts[i].F32 = []int{63}, ts[i].F32[:63]
				}
			}
			return ts
		}), []string{`"bert.encoder.layer.0.intermediate.dense.bias"`, weightsFile, "shape [63], want [64]"}},
		{"more labels than the classifier has", editConfig(classifierDir, func(c map[string]any) {
			c["id2label"] = map[string]string{"0": "a", "1": "b", "2": "c"}
		}), []string{`"classifier.weight"`, "shape [1 32], want [3 32]"}},
		{"architecture", editConfig(classifierDir, func(c map[string]any) { c["architectures"] = []string{"RobertaForSequenceClassification"} }),
			[]string{`architectures ["RobertaForSequenceClassification"]`, "config.json"}},
		{"model type", editConfig(embedderDir, func(c map[string]any) { c["model_type"] = "distilbert" }),
			[]string{`model_type "distilbert"`}},
		{"activation", editConfig(embedderDir, func(c map[string]any) { c["hidden_act"] = "swish" }),
			[]string{`hidden_act "swish"`}},
		{"position embeddings", editConfig(embedderDir, func(c map[string]any) { c["position_embedding_type"] = "relative_key" }),
			[]string{`position_embedding_type "relative_key"`}},
		{"heads", editConfig(embedderDir, func(c map[string]any) { c["num_attention_heads"] = 5 }),
			[]string{"not a multiple of num_attention_heads 5"}},
		{"problem type", editConfig(classifierDir, func(c map[string]any) { c["problem_type"] = "ranking" }),
			[]string{`problem_type "ranking"`}},
		{"pooling", withFile(embedderDir, "1_Pooling/config.json", `{"pooling_mode_max_tokens": true}`),
			[]string{"1_Pooling/config.json", `["pooling_mode_max_tokens"]`}},
		{"module", withFile(embedderDir, "modules.json", `[{"path": "", "type": "sentence_transformers.models.Transformer"},
			{"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}, {"path": "2_Dense", "type": "sentence_transformers.models.Dense"}]`),
			[]string{`module "sentence_transformers.models.Dense" (2_Dense)`}},
		{"no weights", withoutFile(classifierDir, weightsFile), []string{"neither model.safetensors nor model.safetensors.index.json"}},
		{"index names a shard without the tensor", withFile(classifierDir, indexFile,
			`{"weight_map": {"classifier.bias": "model.safetensors", "classifier.weight": "other.safetensors"}}`),
			[]string{"other.safetensors"}},
		{"no tokenizer", withoutFile(classifierDir, "tokenizer.json"), []string{"tokenizer.json"}},
		{"no config", withoutFile(classifierDir, "config.json"), []string{"config.json"}},
	}
	for _, c := range cases {
		_, err := Load(c.dir, backend(t), Options{})
		if err == nil {
			t.Errorf("%s: Load succeeded", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", c.name, err, w)
			}
		}
	}
	if _, err := Load(classifierDir, nil, Options{}); err == nil {
		t.Error("Load without a backend succeeded")
	}
	if _, err := Load(classifierDir, backend(t), Options{BatchSize: -1}); err == nil {
		t.Error("Load with a negative batch size succeeded")
	}
}
