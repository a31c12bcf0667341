package train

import (
	"context"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/internal/testutil/encoderref"
	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/models/head"
	"github.com/winnowlabs/winnow/models/modeldir"
	"github.com/winnowlabs/winnow/transforms/dataset"
)

// encoderDataset is the bundled FineWeb-Edu annotations with their 0-5
// scores as labels: train/ from train.jsonl.zst, valid/ and test/ the same
// rows of valid.jsonl.zst.
func encoderDataset(t *testing.T, nTrain, nValid int) string {
	t.Helper()
	dir := eduDataset(t, nTrain, nValid)
	b, err := os.ReadFile(filepath.Join(dir, "test", "part-0.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "valid"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "valid", "part-0.jsonl"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// predictTexts scores texts with the model directory dir as score loads it.
func predictTexts(t *testing.T, dir string, texts []string) []models.Prediction {
	t.Helper()
	c, err := models.Load(context.Background(), dir, models.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	preds := make([]models.Prediction, len(texts))
	if err := c.Predict(texts, preds); err != nil {
		t.Fatal(err)
	}
	return preds
}

// TestEncoderTrainRegressor trains the FineWeb-Edu recipe on the bundled
// annotations with the small random BERT as base, then checks the model
// directory: its manifest, that it loads with and without the manifest
// (the Hugging Face layout alone) with identical scores, that those scores
// are the trained head's (the validation loss training recorded), that eval
// reports on it, and that a second run with other head settings reuses the
// [CLS] features.
func TestEncoderTrainRegressor(t *testing.T) {
	ctx := context.Background()
	data := encoderDataset(t, 300, 100)
	out := filepath.Join(t.TempDir(), "edu-bert")
	o := Options{Kind: models.KindEncoder, Datasets: []string{data}, Output: out, Encoder: EncoderOptions{
		Base: encoderref.ClassifierDir(t), Quiet: true, Head: head.Options{MaxEpochs: 4, BatchSize: 64, LearningRate: 1e-3},
	}}
	man, err := Train(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if man.Kind != models.KindEncoder || man.Task != modeldir.TaskRegression || man.Range == nil || *man.Range != [2]float64{0, 5} ||
		man.Base == nil || man.Base.SHA256 == "" || man.TokenizerHash == "" || man.Fingerprint == "" || man.File != "model.safetensors" {
		t.Fatalf("manifest %+v", man)
	}
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} {
		if !slices.Contains(man.Files, f) {
			t.Errorf("model directory lacks %s: %v", f, man.Files)
		}
	}
	if man.TrainingArgs["best_epoch"] == nil || man.TrainingArgs["epochs"] != 4 || man.TrainingArgs["pooler_from_base"] != true {
		t.Errorf("training args %v", man.TrainingArgs)
	}

	valid, err := readSplit(ctx, "valid", mustSplits(t, data)["valid"], Fields{})
	if err != nil {
		t.Fatal(err)
	}
	texts := make([]string, len(valid.examples))
	for i, e := range valid.examples {
		texts[i] = e.text
	}
	withManifest := predictTexts(t, out, texts)
	bare := filepath.Join(t.TempDir(), "hf")
	os.MkdirAll(bare, 0o755)
	for _, f := range man.Files {
		b, _ := os.ReadFile(filepath.Join(out, f))
		os.WriteFile(filepath.Join(bare, f), b, 0o644)
	}
	hfLayout := predictTexts(t, bare, texts)
	var mse float64
	for i := range texts {
		if withManifest[i].Score != hfLayout[i].Score || withManifest[i].IntScore != hfLayout[i].IntScore {
			t.Fatalf("text %d: %v with the manifest, %v from the Hugging Face layout alone", i, withManifest[i], hfLayout[i])
		}
		y, _ := strconv.ParseFloat(valid.examples[i].label, 64)
		d := withManifest[i].Score - y
		mse += d * d
	}
	mse /= float64(len(texts))
	recorded := man.Metrics["valid"].(map[string]any)["loss"].(float64)
	if math.Abs(mse-recorded) > 1e-4*max(1, recorded) {
		t.Errorf("the exported model's validation MSE %v differs from the trained head's %v", mse, recorded)
	}

	res, err := Evaluate(ctx, EvalOptions{Datasets: []string{data}, ModelDir: out})
	if err != nil {
		t.Fatal(err)
	}
	reg := res.Splits[0].Regression
	if res.Kind != models.KindEncoder || reg == nil || reg.Samples != 100 || math.IsNaN(reg.R2) || reg.MAE <= 0 {
		t.Fatalf("evaluation %+v", res.Splits[0])
	}
	if !strings.Contains(res.Text(), "r2") || !strings.Contains(res.Text(), "macro avg") {
		t.Errorf("report:\n%s", res.Text())
	}

	// Another head on the same base reuses the features.
	features := filepath.Clean(out) + ".features"
	stamps := modTimes(t, features)
	time.Sleep(10 * time.Millisecond)
	o.Output = filepath.Join(t.TempDir(), "other")
	o.Encoder.FeaturesDir = features
	o.Encoder.Head.LearningRate, o.Encoder.ConstantRate = 3e-4, true
	again, err := Train(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if again.TrainingArgs["lr_schedule"] != "constant" {
		t.Errorf("training args %v", again.TrainingArgs)
	}
	if after := modTimes(t, features); !maps.Equal(after, stamps) {
		t.Errorf("the second run rewrote the features: %v, then %v", stamps, after)
	}
}

func mustSplits(t *testing.T, data string) map[string][]dataset.File {
	t.Helper()
	s, err := discoverSplits(context.Background(), []string{data})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// modTimes lists the modification times of the feature shards under dir
// (the step's manifest, rewritten by every run, aside).
func modTimes(t *testing.T, dir string) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "_manifest.json" {
			return err
		}
		st, err := d.Info()
		if err == nil {
			out[p] = st.ModTime()
		}
		return err
	})
	if err != nil || len(out) == 0 {
		t.Fatalf("features in %s: %d files, %v", dir, len(out), err)
	}
	return out
}

// TestEncoderTrainClassifier: --num-labels 6 on 0-5 scores without 5s
// keeps an output per score, and the model scores by the expected label.
func TestEncoderTrainClassifier(t *testing.T) {
	ctx := context.Background()
	data := encoderDataset(t, 200, 60)
	out := filepath.Join(t.TempDir(), "edu-6")
	base, err := models.SharedEmbedder(ctx, encoderref.ClassifierDir(t), "", models.EmbedderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	man, err := Train(ctx, Options{Kind: models.KindEncoder, Datasets: []string{data}, Output: out, Encoder: EncoderOptions{
		Base: encoderref.ClassifierDir(t), Quiet: true, NumLabels: 6, Head: head.Options{MaxEpochs: 2, BatchSize: 64},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Training let go of the base models it shared: evaluating or scoring
	// next in the same process does not hold them beside the trained one.
	if again, err := models.SharedEmbedder(ctx, encoderref.ClassifierDir(t), "", models.EmbedderOptions{}); err != nil || again == base {
		t.Errorf("after training the shared base embedder is still held (%v)", err)
	}
	if man.Task != modeldir.TaskClassification || strings.Join(man.Labels, ",") != "0,1,2,3,4,5" || man.Range != nil {
		t.Fatalf("manifest %+v", man)
	}
	c, err := models.Load(ctx, out, models.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info := c.Info(); info.Scoring.Mode != models.ScoreExpected || len(info.Labels) != 6 {
		t.Fatalf("info %+v", info)
	}
	res, err := Evaluate(ctx, EvalOptions{Datasets: []string{data}, ModelDir: out})
	if err != nil {
		t.Fatal(err)
	}
	if rep := res.Splits[0].Report; rep == nil || rep.Samples != 60 {
		t.Fatalf("report %+v", res.Splits[0])
	}

	// Labels that are not 0…K-1 must be exactly K.
	if _, err := classLabeller(3, []string{"a", "b"}); err == nil || !strings.Contains(err.Error(), "2 distinct labels (a, b), not the 3 classes") {
		t.Errorf("classLabeller: %v", err)
	}
	if _, err := Train(ctx, Options{Kind: models.KindEncoder, Datasets: []string{data}, Output: filepath.Join(t.TempDir(), "x"),
		Encoder: EncoderOptions{Base: encoderref.ClassifierDir(t), NumLabels: 1}}); err == nil || !strings.Contains(err.Error(), "at least 2") {
		t.Errorf("one label: %v", err)
	}
}
