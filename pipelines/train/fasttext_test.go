package train

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/models/fasttext"
	"github.com/winnowlabs/winnow/models/modeldir"
	"github.com/winnowlabs/winnow/transforms/ftdata"
	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// dataDir writes a to-fasttext style directory from the oracle sentences:
// train.txt (lines repeated), test.txt and report.json.
func dataDir(t *testing.T, norm normalize.Spec, repeat int) string {
	t.Helper()
	b, err := os.ReadFile(testutil.Testdata(t, "fasttext/fasttext-net/synthetic_oracle.json"))
	if err != nil {
		t.Fatal(err)
	}
	var models []struct {
		Cases []struct {
			Text   string   `json:"text"`
			Labels []string `json:"labels"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &models); err != nil {
		t.Fatal(err)
	}
	var train, test strings.Builder
	for r := range repeat {
		for _, m := range models {
			for _, c := range m.Cases {
				fmt.Fprintf(&train, "%s %s\n", c.Labels[0], c.Text)
				if r == 0 {
					fmt.Fprintf(&test, "%s %s\n", c.Labels[0], c.Text)
				}
			}
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ftdata.TrainName), []byte(train.String()), 0o644)
	os.WriteFile(filepath.Join(dir, ftdata.TestName), []byte(test.String()), 0o644)
	if err := ftdata.WriteReport(context.Background(), dir, &ftdata.Report{Normalizer: norm, Inputs: []string{"oracle"}}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func smallArgs() Options {
	a := fasttext.ClassifierArgs()
	a.Dim, a.Bucket, a.Epoch, a.MinCount, a.LR, a.Thread = 16, 5000, 30, 1, 0.5, 1
	return Options{Kind: models.KindFastText, FastText: FastTextOptions{Args: a}}
}

func TestTrainAndEvaluate(t *testing.T) {
	norm := normalize.Spec{Name: "plain", Version: "1"}
	d1, d2 := dataDir(t, norm, 3), dataDir(t, norm, 2)
	out := filepath.Join(t.TempDir(), "model")
	o := smallArgs()
	o.Datasets, o.Output = []string{d1, d2}, out
	man, err := Train(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// The fingerprint covers both training files, in order.
	h := sha256.New()
	for i, d := range []string{d1, d2} {
		b, _ := os.ReadFile(filepath.Join(d, ftdata.TrainName))
		h.Write(b)
		sum := sha256.Sum256(b)
		if ref := man.TrainingData[i]; ref.SHA256 != hex.EncodeToString(sum[:]) || ref.Bytes != int64(len(b)) {
			t.Errorf("training data %d: %+v", i, ref)
		}
	}
	if man.Fingerprint != hex.EncodeToString(h.Sum(nil)) {
		t.Errorf("fingerprint %s", man.Fingerprint)
	}
	if man.Kind != models.KindFastText || man.File != FastTextModelFile || man.Normalizer != norm || len(man.Labels) != 4 || man.Labels[0] == "" || strings.HasPrefix(man.Labels[0], "__label__") {
		t.Errorf("manifest %+v", man)
	}
	if man.TrainingArgs["dim"] != 16 || man.TrainingArgs["loss"] != "softmax" {
		t.Errorf("training args %v", man.TrainingArgs)
	}
	if entries, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*")); len(entries) != 0 {
		t.Errorf("temporary files left: %v", entries)
	}
	res, err := Evaluate(context.Background(), EvalOptions{Datasets: []string{d1}, ModelDir: out})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Splits) != 1 || res.Splits[0].Split != "test" {
		t.Fatalf("splits %+v", res.Splits)
	}
	s := res.Splits[0]
	if s.Examples != 24 || s.Report.Samples != 24 || s.Report.Accuracy < 0.75 || s.Report.AUC == nil {
		t.Errorf("evaluation: %d examples, report %+v", s.Examples, s.Report)
	}
	if *s.PrecisionAt1 != s.Report.Accuracy {
		t.Errorf("P@1 %v differs from accuracy %v on single-label data", *s.PrecisionAt1, s.Report.Accuracy)
	}
	if !strings.Contains(res.Text(), "weighted avg") || !strings.Contains(res.Text(), "P@1\t") {
		t.Errorf("text:\n%s", res.Text())
	}
	saved, err := os.ReadFile(res.File)
	if err != nil || !json.Valid(saved) {
		t.Fatalf("results file %s: %v", res.File, err)
	}
	back, err := modeldir.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := back.Metrics["test"].(map[string]any)
	if metrics["macro_f1"] == nil || metrics["results_file"] != filepath.Base(res.File) {
		t.Errorf("manifest metrics %v", back.Metrics)
	}
}

// Data directories may be on an object store (memfs:// here; gs:// and
// s3:// go through the same storage calls): training copies the file to
// a local one and gives the same model, evaluation reads it directly.
func TestRemoteDataDirectory(t *testing.T) {
	ctx := context.Background()
	norm := normalize.Spec{Name: "plain", Version: "1"}
	local := dataDir(t, norm, 3)
	remote := "memfs://traineval-test/data"
	for _, name := range []string{ftdata.TrainName, ftdata.TestName, ftdata.ReportName} {
		b, err := os.ReadFile(filepath.Join(local, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := storage.WriteFile(ctx, storage.Join(remote, name), b); err != nil {
			t.Fatal(err)
		}
	}
	train := func(dir string) (*modeldir.Manifest, string) {
		o := smallArgs()
		o.Datasets, o.Output = []string{dir}, filepath.Join(t.TempDir(), "model")
		man, err := Train(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		return man, o.Output
	}
	fromLocal, localModel := train(local)
	fromRemote, remoteModel := train(remote)
	if fromRemote.Fingerprint != fromLocal.Fingerprint || fromRemote.TrainingData[0].Path != storage.Join(remote, ftdata.TrainName) {
		t.Errorf("remote training data: %+v, want fingerprint %s", fromRemote.TrainingData, fromLocal.Fingerprint)
	}
	a, _ := os.ReadFile(filepath.Join(localModel, FastTextModelFile))
	b, _ := os.ReadFile(filepath.Join(remoteModel, FastTextModelFile))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("the model trained from the remote copy differs (single-threaded training is deterministic)")
	}
	if entries, _ := filepath.Glob(filepath.Join(remoteModel, ".*")); len(entries) != 0 {
		t.Errorf("temporary files left: %v", entries)
	}
	res, err := Evaluate(ctx, EvalOptions{Datasets: []string{remote}, ModelDir: remoteModel})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Splits) != 1 || res.Splits[0].Examples != 24 {
		t.Errorf("evaluation of remote data: %+v", res.Splits)
	}
	missing := smallArgs()
	missing.Datasets, missing.Output = []string{"memfs://traineval-test/missing"}, t.TempDir()
	if _, err := Train(ctx, missing); err == nil || !strings.Contains(err.Error(), "not a fastText data directory") {
		t.Errorf("missing remote directory: %v", err)
	}
}

func TestNormalizerChecks(t *testing.T) {
	a := dataDir(t, normalize.Spec{Name: "plain", Version: "1"}, 1)
	b := dataDir(t, normalize.Spec{Name: "plain", Version: "2"}, 1)
	o := smallArgs()
	o.Datasets, o.Output = []string{a, b}, filepath.Join(t.TempDir(), "m")
	if _, err := Train(context.Background(), o); err == nil || !strings.Contains(err.Error(), "normalizer") {
		t.Errorf("mismatched normalizers: %v", err)
	}
	o.Datasets = []string{a}
	if _, err := Train(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if _, err := Evaluate(context.Background(), EvalOptions{Datasets: []string{b}, ModelDir: o.Output}); err == nil || !strings.Contains(err.Error(), "normalized") {
		t.Errorf("evaluation with another normalizer: %v", err)
	}
	o.Datasets = []string{t.TempDir()}
	if _, err := Train(context.Background(), o); err == nil || !strings.Contains(err.Error(), "to-fasttext") {
		t.Errorf("directory without report: %v", err)
	}
}

// A failed training run leaves the previous model as it was and nothing
// else; a directory that is not a model directory is never replaced.
func TestModelDirectoryIsReplacedAtomically(t *testing.T) {
	ctx := context.Background()
	norm := normalize.Spec{Name: "plain", Version: "1"}
	o := smallArgs()
	o.Datasets, o.Output = []string{dataDir(t, norm, 2)}, filepath.Join(t.TempDir(), "model")
	if _, err := Train(ctx, o); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(o.Output, FastTextModelFile))
	if err != nil {
		t.Fatal(err)
	}
	bad := o
	bad.Datasets = []string{t.TempDir()}
	if _, err := Train(ctx, bad); err == nil {
		t.Fatal("training on a directory without data succeeded")
	}
	after, err := os.ReadFile(filepath.Join(o.Output, FastTextModelFile))
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("the previous model changed after a failed run: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(o.Output), ".*")); len(left) != 0 {
		t.Errorf("temporary directories left: %v", left)
	}
	// Retraining replaces the model in place.
	o.FastText.Args.Epoch = 5
	if _, err := Train(ctx, o); err != nil {
		t.Fatal(err)
	}
	if man, err := modeldir.Read(o.Output); err != nil || man.TrainingArgs["epoch"] != float64(5) {
		t.Fatalf("retrained manifest: %+v, %v", man, err)
	}
	// A directory of other files is refused, and left alone.
	other := filepath.Join(t.TempDir(), "notes")
	os.MkdirAll(other, 0o755)
	os.WriteFile(filepath.Join(other, "keep.txt"), []byte("mine"), 0o644)
	o.Output = other
	if _, err := Train(ctx, o); err == nil || !strings.Contains(err.Error(), "not a model directory") {
		t.Fatalf("replacing a directory of other files: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(other, "keep.txt")); err != nil || string(b) != "mine" {
		t.Fatalf("the directory's file changed: %v", err)
	}
}

// Training warns when the loss never left its starting value (bonepick's
// defaults on the 144 walkthrough rows wrote a model whose loss stayed at
// ln 2), and not when the model learned.
func TestTrainWarnsWhenTheModelDidNotLearn(t *testing.T) {
	norm := normalize.Spec{Name: "plain", Version: "1"}
	data := dataDir(t, norm, 3)
	stuck := smallArgs()
	stuck.FastText.Args.LR, stuck.FastText.Args.Epoch = 1e-6, 2
	learns := smallArgs()
	for _, c := range []struct {
		o    Options
		want bool
	}{{stuck, true}, {learns, false}} {
		var log bytes.Buffer
		c.o.Datasets, c.o.Output, c.o.Log = []string{data}, filepath.Join(t.TempDir(), "model"), &log
		if _, err := Train(context.Background(), c.o); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(log.String(), "warning: the training loss stayed at its starting value"); got != c.want {
			t.Errorf("lr %g, epoch %d: warned %v, want %v:\n%s", c.o.FastText.Args.LR, c.o.FastText.Args.Epoch, got, c.want, log.String())
		}
	}
}

// A model directory inside its training data, or a second run writing it
// at the same time, is refused.
func TestModelDirectoryClaim(t *testing.T) {
	ctx := context.Background()
	data := dataDir(t, normalize.Spec{Name: "plain", Version: "1"}, 1)
	o := smallArgs()
	o.Datasets, o.Output = []string{data}, filepath.Join(data, "model")
	if _, err := Train(ctx, o); err == nil || !strings.Contains(err.Error(), "inside") {
		t.Errorf("model directory inside the data: %v", err)
	}
	o.Output = filepath.Join(t.TempDir(), "model")
	held, release, err := claimModelDir(ctx, o.Output, o.Datasets, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = held
	if _, err := Train(ctx, o); err == nil || !strings.Contains(err.Error(), "winnow test") {
		t.Errorf("a second writer: %v", err)
	}
	release()
	if _, err := Train(ctx, o); err != nil {
		t.Fatalf("after the first run released the lock: %v", err)
	}
}
