package models

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/internal/testutil/encoderref"
	"github.com/winnowlabs/winnow/models/encoder"
	"github.com/winnowlabs/winnow/models/gomlxbackend"
	"github.com/winnowlabs/winnow/models/safetensors"
)

// TestEncoderClassifierParity loads the Hugging Face regressor fixture as
// score does (no manifest) and compares its scores with PyTorch's, texts
// longer than the maximum length included.
func TestEncoderClassifierParity(t *testing.T) {
	ref := encoderref.Load(t)
	c, err := Load(context.Background(), encoderref.ClassifierDir(t), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	info := c.Info()
	if info.Kind != KindEncoder || info.Name != "classifier" || info.Scoring.Mode != ScoreValue ||
		info.Scoring.Min != 0 || info.Scoring.Max != 5 || info.Labels != nil || len(info.SHA256) != 64 {
		t.Fatalf("info %+v", info)
	}
	preds := make([]Prediction, len(ref.Texts))
	if err := c.Predict(ref.Texts, preds); err != nil {
		t.Fatal(err)
	}
	long := 0
	for i, p := range preds {
		want := float64(ref.Classifier.Score[i][0])
		if math.Abs(p.Score-want) > encoderref.Tol {
			t.Errorf("text %d: score %v, PyTorch %v", i, p.Score, want)
		}
		if wantInt := int(math.RoundToEven(min(max(p.Score, 0), 5))); p.IntScore != wantInt {
			t.Errorf("text %d: int_score %d for score %v", i, p.IntScore, p.Score)
		}
		if len(ref.Classifier.IDs[i]) == ref.Classifier.MaxLength {
			long++
		}
	}
	if long < 10 {
		t.Errorf("only %d texts reach the maximum length: truncation is not exercised", long)
	}
	// The file the CLI sizes memory by is the checkpoint.
	if f, err := File(context.Background(), encoderref.ClassifierDir(t)); err != nil || filepath.Base(f) != "model.safetensors" {
		t.Errorf("File: %q, %v", f, err)
	}
}

// TestEncoderEmbedderParity compares the encoder embedders with PyTorch: a
// sentence-transformers model's own (mean) pooling, its raw [CLS] state,
// and a classifier's [CLS] state.
func TestEncoderEmbedderParity(t *testing.T) {
	ref := encoderref.Load(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		dir  string
		opts EmbedderOptions
		want [][]float32
	}{
		{"mean", encoderref.EmbedderDir(t), EmbedderOptions{}, ref.Embedder.Mean},
		{"cls", encoderref.EmbedderDir(t), EmbedderOptions{Pooling: PoolingCLS}, ref.Embedder.CLS},
		{"classifier-cls", encoderref.ClassifierDir(t), EmbedderOptions{}, ref.Classifier.CLS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := LoadEmbedder(ctx, tc.dir, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			info := e.Info()
			dim := len(tc.want[0])
			if info.Kind != KindEncoder || info.Dim != dim || info.SHA256 == "" || info.TokenizerHash == "" {
				t.Fatalf("info %+v", info)
			}
			out := make([]float32, len(ref.Texts)*dim)
			if err := e.Embed(ref.Texts, out); err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for i, want := range tc.want {
				for j, w := range want {
					worst = max(worst, math.Abs(float64(out[i*dim+j]-w)))
				}
			}
			if worst > encoderref.Tol {
				t.Errorf("largest difference from PyTorch %g", worst)
			}
		})
	}
	if _, err := LoadEmbedder(ctx, encoderref.EmbedderDir(t), EmbedderOptions{Pooling: "max"}); err == nil || !strings.Contains(err.Error(), `"max"`) {
		t.Errorf("unknown pooling: %v", err)
	}
}

// TestEncoderMultiLabel exports a multi-label head and scores with it: the
// probabilities are the sigmoids of the logits, and the top label is the
// most probable one.
func TestEncoderMultiLabel(t *testing.T) {
	ref := encoderref.Load(t)
	dir := filepath.Join(t.TempDir(), "toxic")
	h := encoder.Head{Labels: []string{"toxic", "spam", "ads"}, ProblemType: encoder.ProblemMultiLabel,
		Classifier: encoder.Linear{Out: 3, In: 32, Weight: make([]float32, 96), Bias: []float32{0.5, -0.25, 0}}}
	for i := range h.Classifier.Weight {
		h.Classifier.Weight[i] = float32(math.Sin(float64(i)))
	}
	if err := encoder.Export(encoderref.ClassifierDir(t), dir, h); err != nil {
		t.Fatal(err)
	}
	c, err := Load(context.Background(), dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info := c.Info(); !info.MultiLabel || info.Scoring.Mode != ScoreTop || strings.Join(info.Labels, ",") != "toxic,spam,ads" {
		t.Fatalf("info %+v", info)
	}
	texts := ref.Texts[:8]
	preds := make([]Prediction, len(texts))
	if err := c.Predict(texts, preds); err != nil {
		t.Fatal(err)
	}
	b, err := gomlxbackend.Open(gomlxbackend.Default)
	if err != nil {
		t.Fatal(err)
	}
	m, err := encoder.Load(dir, b, encoder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	logits, err := m.Compute(texts, encoder.OutputLogits)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range preds {
		top := 0
		for j, v := range p.Probs {
			if want := 1 / (1 + math.Exp(-float64(logits[3*i+j]))); math.Abs(float64(v)-want) > 1e-6 {
				t.Errorf("text %d label %d: probability %v, sigmoid of the logit %v", i, j, v, want)
			}
			if v > p.Probs[top] {
				top = j
			}
		}
		if p.Top != top || p.Score != Round32(float64(p.Probs[top])) {
			t.Errorf("text %d: top %d score %v, probabilities %v", i, p.Top, p.Score, p.Probs)
		}
	}
}

// copyDir copies src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	testutil.CopyTree(t, src, dst)
	return dst
}

// TestEncoderBadDirectories: what is wrong with a model directory is named
// with the file or tensor, never skipped.
func TestEncoderBadDirectories(t *testing.T) {
	ctx := context.Background()
	src := encoderref.ClassifierDir(t)

	noConfig := copyDir(t, src)
	os.Remove(filepath.Join(noConfig, "config.json"))

	otherArch := copyDir(t, src)
	cfg, _ := os.ReadFile(filepath.Join(src, "config.json"))
	os.WriteFile(filepath.Join(otherArch, "config.json"), []byte(strings.Replace(string(cfg), "BertForSequenceClassification", "RobertaForSequenceClassification", 1)), 0o644)

	missing := copyDir(t, src)
	f, err := safetensors.Open(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var kept []safetensors.Tensor
	for _, name := range f.Names() {
		if name == "bert.encoder.layer.1.attention.self.key.weight" {
			continue
		}
		data, shape, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, safetensors.Tensor{Name: name, Shape: shape, F32: data})
	}
	f.Close()
	if err := safetensors.WriteFile(filepath.Join(missing, "model.safetensors"), kept, nil); err != nil {
		t.Fatal(err)
	}

	noWeights := copyDir(t, src)
	os.Remove(filepath.Join(noWeights, "model.safetensors"))

	for _, tc := range []struct {
		name, dir string
		want      []string
	}{
		{"no config.json", noConfig, []string{noConfig, "neither manifest.json, model.bin/model.ftz nor a Hugging Face config.json"}},
		{"unsupported architecture", otherArch, []string{filepath.Join(otherArch, "config.json"), "RobertaForSequenceClassification", "supported are"}},
		{"missing tensor", missing, []string{`"bert.encoder.layer.1.attention.self.key.weight" is missing`, filepath.Join(missing, "model.safetensors")}},
		{"no weights", noWeights, []string{noWeights, "neither model.safetensors nor model.safetensors.index.json"}},
		{"an embedding model", encoderref.EmbedderDir(t), []string{"BertModel", "does not classify"}},
	} {
		_, err := Load(ctx, tc.dir, LoadOptions{})
		if err == nil {
			t.Errorf("%s: loaded", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
	}
}

func TestSharedEmbedderLoadsOnceUntilReleased(t *testing.T) {
	ctx := context.Background()
	dir := encoderref.EmbedderDir(t)
	first, err := SharedEmbedder(ctx, dir, "", EmbedderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := SharedEmbedder(ctx, dir, first.Info().SHA256, EmbedderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Error("a second SharedEmbedder loaded the model again")
	}
	ReleaseEmbedders()
	reloaded, err := SharedEmbedder(ctx, dir, "", EmbedderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if reloaded == first {
		t.Error("after ReleaseEmbedders, SharedEmbedder returned the released embedder")
	}
}
