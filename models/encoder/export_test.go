package encoder

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/models/safetensors"
)

// readLinear reads a dense layer of a safetensors file.
func readLinear(t testing.TB, path, name string) *Linear {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, shape, err := f.Float32(name + ".weight")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := f.Float32(name + ".bias")
	if err != nil {
		t.Fatal(err)
	}
	return &Linear{Weight: w, Bias: b, Out: shape[0], In: shape[1]}
}

func randomLinear(rng *rand.Rand, out, in int) Linear {
	l := Linear{Out: out, In: in, Weight: make([]float32, out*in), Bias: make([]float32, out)}
	for i := range l.Weight {
		l.Weight[i] = float32(rng.NormFloat64() * 0.3)
	}
	for i := range l.Bias {
		l.Bias[i] = float32(rng.NormFloat64() * 0.3)
	}
	return l
}

// TestExportRoundTrip exports the classifier fixture's own head: the export
// computes the same outputs, bit for bit, and is laid out as transformers
// expects. WINNOW_ENCODER_EXPORT=DIR also writes the export and winnow's
// scores there, for testdata/encoder/make_reference.py verify.
func TestExportRoundTrip(t *testing.T) {
	r := ref(t)
	dir := filepath.Join(t.TempDir(), "export")
	if d := os.Getenv("WINNOW_ENCODER_EXPORT"); d != "" {
		dir = d
	}
	src := filepath.Join(classifierDir, weightsFile)
	head := Head{Classifier: *readLinear(t, src, "classifier"), ProblemType: ProblemRegression, Labels: []string{"score"}}
	if err := Export(classifierDir, dir, head); err != nil {
		t.Fatal(err)
	}
	want := compute1(t, load(t, classifierDir, Options{}), r.Texts, OutputLogits)
	m := load(t, dir, Options{})
	got := compute1(t, m, r.Texts, OutputLogits)
	if !slices.Equal(got, want) {
		t.Error("the export's outputs differ from the base model's")
	}
	if m.Task() != TaskRegression || !slices.Equal(m.Labels(), []string{"score"}) {
		t.Errorf("export: Task %s Labels %q", m.Task(), m.Labels())
	}

	f, err := safetensors.Open(filepath.Join(dir, weightsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata %v lacks format pt, which transformers requires", f.Metadata)
	}
	base, err := safetensors.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	if !slices.Equal(f.Names(), base.Names()) {
		t.Errorf("export's tensors %q differ from a transformers checkpoint's %q", f.Names(), base.Names())
	}
	var cfg map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"architectures": []any{"BertForSequenceClassification"}, "model_type": "bert",
		"num_labels": 1.0, "problem_type": "regression", "id2label": map[string]any{"0": "score"},
		"label2id": map[string]any{"score": 0.0}, "max_position_embeddings": 128.0, "layer_norm_eps": 1e-12} {
		if got, _ := json.Marshal(cfg[k]); string(got) != mustJSON(t, v) {
			t.Errorf("config.json %s = %s, want %s", k, got, mustJSON(t, v))
		}
	}
	for _, name := range []string{"tokenizer.json", "special_tokens_map.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	var tc map[string]any
	b, _ = os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err := json.Unmarshal(b, &tc); err != nil || tc["model_max_length"] != 128.0 || tc["tokenizer_class"] != "BertTokenizer" {
		t.Errorf("tokenizer_config.json: model_max_length %v, tokenizer_class %v (%v)", tc["model_max_length"], tc["tokenizer_class"], err)
	}
	if os.Getenv("WINNOW_ENCODER_EXPORT") != "" {
		rows := make([][]float32, len(got))
		for i := range got {
			rows[i] = got[i : i+1]
		}
		b, _ := json.Marshal(map[string]any{"texts": r.Texts, "scores": rows})
		writeFile(t, filepath.Join(dir, "winnow-scores.json"), string(b))
	}
}

func mustJSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestExportClassificationHeads puts new poolers and 3-label heads on the
// sentence-transformers fixture (a BertModel) and checks the exports'
// probabilities against the head applied in plain Go to the pooled output.
func TestExportClassificationHeads(t *testing.T) {
	r := ref(t)
	rng := rand.New(rand.NewPCG(1, 2))
	texts := r.Texts
	for _, problem := range []string{ProblemSingleLabel, ProblemMultiLabel} {
		pooler := randomLinear(rng, 32, 32)
		head := Head{Pooler: &pooler, Classifier: randomLinear(rng, 3, 32), Labels: []string{"low", "mid", "high"}, ProblemType: problem}
		dir := filepath.Join(t.TempDir(), problem)
		if err := Export(embedderDir, dir, head); err != nil {
			t.Fatal(err)
		}
		m := load(t, dir, Options{})
		wantTask := map[string]Task{ProblemSingleLabel: TaskSingleLabel, ProblemMultiLabel: TaskMultiLabel}[problem]
		if m.Task() != wantTask || m.Dim() != 3 || !slices.Equal(m.Labels(), head.Labels) {
			t.Errorf("%s: Task %s Dim %d Labels %q", problem, m.Task(), m.Dim(), m.Labels())
		}
		// The encoder is the embedder's, truncating at its max_seq_length.
		if m.MaxLength() != 256 {
			t.Errorf("%s: MaxLength %d, want the base's max_seq_length 256", problem, m.MaxLength())
		}
		checkClose(t, problem+" cls", compute1(t, m, texts, OutputCLS), r.Embedder.CLS, parityTol)

		cls := compute1(t, m, texts, OutputCLS)
		probs, err := m.Predict(texts)
		if err != nil {
			t.Fatal(err)
		}
		want := make([][]float32, len(texts))
		for i := range texts {
			pooled := applyLinear(&pooler, cls[i*32:(i+1)*32])
			for j := range pooled {
				pooled[j] = float32(math.Tanh(float64(pooled[j])))
			}
			want[i] = applyLinear(&head.Classifier, pooled)
			var sum float64
			for _, v := range want[i] {
				sum += math.Exp(float64(v))
			}
			for j, v := range want[i] {
				if problem == ProblemSingleLabel {
					want[i][j] = float32(math.Exp(float64(v)) / sum)
				} else {
					want[i][j] = float32(1 / (1 + math.Exp(-float64(v))))
				}
			}
		}
		checkClose(t, problem+" probabilities", probs, want, 1e-5)
	}
}

func applyLinear(l *Linear, x []float32) []float32 {
	out := make([]float32, l.Out)
	for o := range out {
		s := float64(l.Bias[o])
		for k, v := range x {
			s += float64(l.Weight[o*l.In+k]) * float64(v)
		}
		out[o] = float32(s)
	}
	return out
}

func TestExportErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	good := func() Head { return Head{Classifier: randomLinear(rng, 2, 32), ProblemType: ProblemSingleLabel} }
	cases := []struct {
		name string
		base string
		edit func(*Head)
		want string
	}{
		{"classifier width", classifierDir, func(h *Head) { h.Classifier = randomLinear(rng, 2, 31) }, "classifier is 2×31"},
		{"classifier values", classifierDir, func(h *Head) { h.Classifier.Weight = h.Classifier.Weight[1:] }, "with 63 weights"},
		{"pooler", classifierDir, func(h *Head) { p := randomLinear(rng, 32, 16); h.Pooler = &p }, "pooler is 32×16"},
		{"labels", classifierDir, func(h *Head) { h.Labels = []string{"a"} }, "1 labels for 2 classifier outputs"},
		{"repeated labels", classifierDir, func(h *Head) { h.Labels = []string{"a", "a"} }, "empty or repeated"},
		{"problem type", classifierDir, func(h *Head) { h.ProblemType = "" }, `problem type ""`},
		{"no pooler anywhere", withWeights(t, embedderDir, safetensors.F32, func(ts []safetensors.Tensor) []safetensors.Tensor {
			return slices.DeleteFunc(ts, func(x safetensors.Tensor) bool { return strings.HasPrefix(x.Name, "pooler.") })
		}), func(*Head) {}, `"pooler.dense.weight" is missing`},
	}
	for _, c := range cases {
		h := good()
		c.edit(&h)
		err := Export(c.base, filepath.Join(t.TempDir(), "out"), h)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Export error %v, want one containing %q", c.name, err, c.want)
		}
	}
	dir := copyDir(t, classifierDir)
	if err := Export(dir, dir, good()); err == nil || !strings.Contains(err.Error(), "base model's directory") {
		t.Errorf("Export onto its base: %v", err)
	}
}
