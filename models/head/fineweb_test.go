package head

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/winnowlabs/winnow/internal/hashfeat"
	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/models/evaluate"
)

// hashedDim is the width of the test's bag-of-words features.
const hashedDim = 512

// readFineWeb reads a bundled FineWeb-Edu shard's hashed bag-of-words
// features and Llama-3 scores.
func readFineWeb(t *testing.T, name string) ([]float32, []float64) {
	t.Helper()
	x, scores, err := hashfeat.Read(context.Background(), filepath.Join(testutil.RepoRoot(t), "data", "fineweb-edu-llama3-sample", name), hashedDim)
	if err != nil {
		t.Fatal(err)
	}
	return x, scores
}

// TestFineWebBinary trains model2vec's default head on the bundled
// FineWeb-Edu rows binarized at score 3 (about 8% positive) with balanced
// class weights, and checks that on the other file it beats the majority
// baseline's macro-F1.
func TestFineWebBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a few seconds")
	}
	b := goBackend(t)
	xTrain, sTrain := readFineWeb(t, "train.jsonl.zst")
	xTest, sTest := readFineWeb(t, "valid.jsonl.zst")
	binary := func(s []float64) []int {
		c := make([]int, len(s))
		for i, v := range s {
			if v >= 3 {
				c[i] = 1
			}
		}
		return c
	}
	train := Dataset{X: xTrain, Classes: binary(sTrain)}
	h, err := Train(context.Background(), b, NewConfig(Classification, hashedDim, 2), train, Dataset{}, Options{
		ClassWeight: Balanced, Metric: MacroF1, Seed: 42, Labels: []string{"neg", "pos"},
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Forward(make([]float32, 2*len(sTest)), xTest, &Scratch{})
	if err != nil {
		t.Fatal(err)
	}
	var truth, pred, majority []string
	for i, c := range binary(sTest) {
		truth = append(truth, h.Labels[c])
		top := 0
		if out[2*i+1] > out[2*i] {
			top = 1
		}
		pred = append(pred, h.Labels[top])
		majority = append(majority, "neg")
	}
	rep, err := evaluate.Classify(truth, pred, h.Labels)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := evaluate.Classify(truth, majority, h.Labels)
	t.Logf("%d epochs (best %d), test report:\n%s", len(h.Training.History), h.Training.BestEpoch, rep)
	if rep.MacroAvg.F1 < base.MacroAvg.F1+0.1 {
		t.Errorf("macro-F1 %.3f, majority baseline %.3f", rep.MacroAvg.F1, base.MacroAvg.F1)
	}
}

// TestFineWebRegression trains bonepick's regressor on the 0-5 scores and
// checks the rank correlation of its test predictions.
func TestFineWebRegression(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a few seconds")
	}
	b := goBackend(t)
	xTrain, sTrain := readFineWeb(t, "train.jsonl.zst")
	xTest, sTest := readFineWeb(t, "valid.jsonl.zst")
	targets := make([]float32, len(sTrain))
	for i, s := range sTrain {
		targets[i] = float32(s)
	}
	h, err := Train(context.Background(), b, NewConfig(Regression, hashedDim, 1), Dataset{X: xTrain, Targets: targets}, Dataset{}, Options{Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.Forward(make([]float32, len(sTest)), xTest, &Scratch{})
	if err != nil {
		t.Fatal(err)
	}
	pred := make([]float64, len(out))
	for i, v := range out {
		pred[i] = float64(v)
	}
	rep, err := evaluate.Regress(sTest, pred, h.Range[0], h.Range[1])
	if err != nil {
		t.Fatal(err)
	}
	rho := evaluate.Spearman(pred, sTest)
	t.Logf("range %v, %d epochs, test Spearman %.3f:\n%s", *h.Range, len(h.Training.History), rho, rep)
	if rho < 0.4 {
		t.Errorf("test Spearman %.3f", rho)
	}
}
