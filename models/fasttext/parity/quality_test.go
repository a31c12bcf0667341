package parity

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/models/evaluate"
	"github.com/winnowlabs/winnow/models/fasttext"
)

// trainOurs trains through the drop-in command line, so that both tools get
// literally the same arguments.
func trainOurs(t *testing.T, input string, args []string) *fasttext.Model {
	t.Helper()
	dir := t.TempDir()
	runOurs(t, "", append([]string{"supervised", "-input", input, "-output", filepath.Join(dir, "m"), "-verbose", "0"}, args...)...)
	m, err := fasttext.Load(filepath.Join(dir, "m.bin"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func trainCpp(t *testing.T, bin, input string, args []string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "m")
	runCpp(t, bin, append([]string{"supervised", "-input", input, "-output", out, "-verbose", "0"}, args...)...)
	return out + ".bin"
}

// TestCookingQuality trains both tools on the cooking set with
// -epoch 25 -wordNgrams 2 -lr 1.0 (two threads each) and requires P@1 on
// the test set within 0.01 of each other.
func TestCookingQuality(t *testing.T) {
	if testing.Short() || trainThreads == 1 {
		t.Skip("quality comparison takes a minute (and trains with Hogwild threads)")
	}
	bin := cpp(t)
	train := testutil.SharedData(t, "fasttext/cooking/cooking_dataset_train.tsv")
	test := testutil.SharedData(t, "fasttext/cooking/cooking_dataset_test.tsv")
	args := strings.Fields("-epoch 25 -wordNgrams 2 -lr 1.0 -thread 2")
	cppModel := trainCpp(t, bin, train, args)
	cppOut := string(runCpp(t, bin, "test", cppModel, test))
	a := fasttext.DefaultArgs() // the same as the arguments above
	a.Epoch, a.WordNgrams, a.LR, a.Thread = 25, 2, 1.0, 2
	ours, err := fasttext.Train(context.Background(), train, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(test)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := ours.Test(f, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var cppP1 float64
	for _, line := range strings.Split(cppOut, "\n") {
		if v, ok := strings.CutPrefix(line, "P@1\t"); ok {
			cppP1 = parseFloat(t, v)
		}
	}
	t.Logf("P@1: C++ %.4f, winnow %.4f", cppP1, res.PrecisionAtK())
	if cppP1 < 0.5 || math.Abs(res.PrecisionAtK()-cppP1) > 0.01 {
		t.Errorf("P@1 %.4f, C++ tool %.4f (want within 0.01)", res.PrecisionAtK(), cppP1)
	}
}

// TestLegalQuality binarizes the legal annotations (score >= 3), splits them
// 80/20 by id, trains both tools with the same arguments and requires their
// macro-F1 on the test split (computed by package evaluate for both) to be
// within 0.01.
func TestLegalQuality(t *testing.T) {
	if testing.Short() || trainThreads == 1 {
		t.Skip("quality comparison takes a minute (and trains with Hogwild threads)")
	}
	bin := cpp(t)
	src := testutil.SharedData(t, "fineweb-legal-annotations/parquet")
	dir := t.TempDir()
	train, test := filepath.Join(dir, "train.txt"), filepath.Join(dir, "test.txt")
	counts, err := WriteLegalSplit(src, train, test)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("legal annotations: %+v", counts)
	args := strings.Fields("-dim 50 -epoch 10 -lr 0.5 -wordNgrams 2 -bucket 200000 -thread 2")
	cppModel := trainCpp(t, bin, train, args)
	ours := trainOurs(t, train, args)

	lines := readLines(t, test, math.MaxInt)
	var gold, texts []string
	for _, l := range lines {
		label, text, _ := strings.Cut(l, " ")
		gold = append(gold, strings.TrimPrefix(label, "__label__"))
		texts = append(texts, text)
	}
	in := filepath.Join(dir, "texts.txt")
	if err := os.WriteFile(in, []byte(strings.Join(texts, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cppPred := strings.Split(strings.TrimSuffix(string(runCpp(t, bin, "predict", cppModel, in)), "\n"), "\n")
	var oursPred []string
	for i, text := range texts {
		oursPred = append(oursPred, strings.TrimPrefix(ours.Predict(text, 1, 0)[0].Label, "__label__"))
		cppPred[i] = strings.TrimPrefix(cppPred[i], "__label__")
	}
	labels := []string{"neg", "pos"}
	cppRep, err := evaluate.Classify(gold, cppPred, labels)
	if err != nil {
		t.Fatal(err)
	}
	ourRep, err := evaluate.Classify(gold, oursPred, labels)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("macro-F1: C++ %.4f, winnow %.4f", cppRep.MacroAvg.F1, ourRep.MacroAvg.F1)
	if cppRep.MacroAvg.F1 < 0.8 || math.Abs(ourRep.MacroAvg.F1-cppRep.MacroAvg.F1) > 0.01 {
		t.Errorf("macro-F1 %.4f, C++ tool %.4f (want within 0.01)", ourRep.MacroAvg.F1, cppRep.MacroAvg.F1)
	}
}

func parseFloat(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}
