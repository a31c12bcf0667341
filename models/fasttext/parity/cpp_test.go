package parity

import (
	"bufio"
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/models/fasttext"
	"github.com/winnowlabs/winnow/models/fasttext/ftcli"
)

// cpp returns the C++ tool or skips.
func cpp(t *testing.T) string {
	t.Helper()
	bin, ok := CppBinary()
	if !ok {
		t.Skip("fastText's C++ command line tool is not installed (Debian package fasttext)")
	}
	return bin
}

// cookingSubset writes the first n lines of the cooking training set.
func cookingSubset(t *testing.T, n int) string {
	t.Helper()
	src := testutil.SharedData(t, "fasttext/cooking/cooking_dataset_train.tsv")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	if n < len(lines) {
		lines = lines[:n]
	}
	p := filepath.Join(t.TempDir(), "train.txt")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runOurs runs the drop-in command line and returns its output.
func runOurs(t *testing.T, stdin string, args ...string) []byte {
	t.Helper()
	var out, errb bytes.Buffer
	err := ftcli.Main(context.Background(), args, ftcli.IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatalf("winnow fasttext %v: %v\n%s", args, err, errb.String())
	}
	return out.Bytes()
}

func runCpp(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	out, err := RunCpp(bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		i := 0
		for i < len(x) && i < len(y) && x[i] == y[i] {
			i++
		}
		t.Errorf("%s and %s differ (sizes %d and %d, first difference at byte %d)", a, b, len(x), len(y), i)
	}
}

// TestExactTrainingMatchesCpp trains with -thread 1 -exact and checks that
// the model and vector files are byte-identical to the C++ tool's, for
// every loss, with character n-grams, and over enough epochs for the
// training lines to be cached in memory: this pins the dictionary (hashing,
// counting, std::sort order), initialisation, random draws, n-gram hashing,
// the losses' arithmetic, the learning-rate schedule and the file format.
func TestExactTrainingMatchesCpp(t *testing.T) {
	bin := cpp(t)
	input := cookingSubset(t, 3000)
	dir := t.TempDir()
	for _, tc := range []struct{ name, args string }{
		{"softmax", "-loss softmax -wordNgrams 2"},
		{"ns", "-loss ns -wordNgrams 2 -neg 3"},
		{"hs", "-loss hs -wordNgrams 3"},
		{"ova", "-loss one-vs-all -wordNgrams 2 -lr 0.3"},
		{"subwords", "-loss hs -minn 2 -maxn 4 -epoch 2 -minCount 2 -t 0.001"},
		{"cached lines", "-loss softmax -wordNgrams 2 -epoch 6 -lr 0.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			common := append([]string{"-input", input, "-dim", "12", "-bucket", "20000", "-thread", "1", "-verbose", "0"}, strings.Fields(tc.args)...)
			c, g := filepath.Join(dir, tc.name+"-cpp"), filepath.Join(dir, tc.name+"-go")
			runCpp(t, bin, append([]string{"supervised", "-output", c}, common...)...)
			runOurs(t, "", append([]string{"supervised", "-output", g, "-exact"}, common...)...)
			sameFile(t, c+".bin", g+".bin")
			sameFile(t, c+".vec", g+".vec")
		})
	}
}

// TestExactPretrainedMatchesCpp does the same with -pretrainedVectors: the
// vectors' words join the dictionary and replace their random rows.
func TestExactPretrainedMatchesCpp(t *testing.T) {
	bin := cpp(t)
	input := cookingSubset(t, 2000)
	dir := t.TempDir()
	vecs := filepath.Join(dir, "vectors")
	// Vectors from another slice of the data, so that some words are new.
	other := cookingSubset(t, 4000)
	runCpp(t, bin, "supervised", "-input", other, "-output", vecs, "-dim", "10", "-thread", "1", "-verbose", "0", "-epoch", "1")
	common := []string{"-input", input, "-dim", "10", "-bucket", "5000", "-wordNgrams", "2", "-thread", "1", "-verbose", "0", "-pretrainedVectors", vecs + ".vec"}
	c, g := filepath.Join(dir, "cpp"), filepath.Join(dir, "go")
	runCpp(t, bin, append([]string{"supervised", "-output", c}, common...)...)
	runOurs(t, "", append([]string{"supervised", "-output", g, "-exact"}, common...)...)
	sameFile(t, c+".bin", g+".bin")
}

// TestCommandOutputMatchesCpp checks that predict, predict-prob, test and
// print-sentence-vectors print exactly what the C++ tool prints, on a model
// trained here (fast arithmetic, two threads) and on lid.176.ftz.
func TestCommandOutputMatchesCpp(t *testing.T) {
	bin := cpp(t)
	input := cookingSubset(t, 4000)
	test := testutil.SharedData(t, "fasttext/cooking/cooking_dataset_test.tsv")
	a := fasttext.DefaultArgs()
	a.Dim, a.Epoch, a.LR, a.WordNgrams, a.Bucket, a.Minn, a.Maxn, a.Thread = 20, 5, 0.5, 2, 50000, 3, 5, trainThreads
	m, err := fasttext.Train(context.Background(), input, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(t.TempDir(), "model.bin")
	if err := m.Save(model); err != nil {
		t.Fatal(err)
	}
	models := []string{model}
	lid := testutil.SharedData(t, "fasttext/lid.176.ftz")
	models = append(models, lid)
	sentences, err := os.ReadFile(test)
	if err != nil {
		t.Fatal(err)
	}
	for _, mp := range models {
		for _, args := range [][]string{
			{"predict", mp, test},
			{"predict-prob", mp, test, "3"},
			{"predict-prob", mp, test, "-1", "0.001"},
			{"test", mp, test},
			{"test", mp, test, "5", "0.01"},
		} {
			want := runCpp(t, bin, args...)
			got := runOurs(t, "", args...)
			if !bytes.Equal(got, want) {
				t.Errorf("%v: output differs from the C++ tool's\n%s", args, firstDiff(got, want))
			}
		}
		want := runCppStdin(t, bin, sentences, "print-sentence-vectors", mp)
		got := runOurs(t, string(sentences), "print-sentence-vectors", mp)
		if !bytes.Equal(got, want) {
			t.Errorf("print-sentence-vectors %s differs\n%s", mp, firstDiff(got, want))
		}
	}
}

func runCppStdin(t *testing.T, bin string, stdin []byte, args ...string) []byte {
	t.Helper()
	f := filepath.Join(t.TempDir(), "stdin.txt")
	if err := os.WriteFile(f, stdin, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := RunCppInput(bin, in, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) && i < len(w); i++ {
		if g[i] != w[i] {
			return "line " + strconv.Itoa(i+1) + ":\n  got:  " + clip(g[i]) + "\n  want: " + clip(w[i])
		}
	}
	return "lengths " + strconv.Itoa(len(g)) + " and " + strconv.Itoa(len(w)) + " lines"
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// TestCppReadsOurModels checks that the C++ tool loads models written here
// (dense and quantized) and predicts the same labels with probabilities
// within 1e-5 of this package's.
func TestCppReadsOurModels(t *testing.T) {
	bin := cpp(t)
	input := cookingSubset(t, 5000)
	a := fasttext.DefaultArgs()
	a.Dim, a.Epoch, a.LR, a.WordNgrams, a.Bucket, a.Thread, a.Loss = 16, 5, 0.5, 2, 30000, trainThreads, fasttext.LossOVA
	m, err := fasttext.Train(context.Background(), input, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dense := filepath.Join(dir, "model.bin")
	if err := m.Save(dense); err != nil {
		t.Fatal(err)
	}
	texts := readLines(t, testutil.SharedData(t, "fasttext/cooking/cooking_dataset_test.tsv"), 600)
	compareWithCpp(t, bin, m, dense, texts)
	if err := m.Quantize(context.Background(), fasttext.QuantizeOptions{QNorm: true, QOut: true, DSub: 4}, nil); err != nil {
		t.Fatal(err)
	}
	ftz := filepath.Join(dir, "model.ftz")
	if err := m.Save(ftz); err != nil {
		t.Fatal(err)
	}
	compareWithCpp(t, bin, m, ftz, texts)
}

func readLines(t *testing.T, path string, n int) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(out) < n {
		out = append(out, sc.Text())
	}
	return out
}

func compareWithCpp(t *testing.T, bin string, m *fasttext.Model, path string, texts []string) {
	t.Helper()
	in := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(in, []byte(strings.Join(texts, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runCpp(t, bin, "predict-prob", path, in, "3")
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%s: C++ printed %d lines for %d texts", path, len(lines), len(texts))
	}
	for i, line := range lines {
		f := strings.Fields(line)
		got := m.Predict(texts[i], 3, 0)
		if len(f) != 2*len(got) {
			t.Fatalf("%s line %d: C++ %q, ours %v", path, i+1, line, got)
		}
		for j, p := range got {
			prob, _ := strconv.ParseFloat(f[2*j+1], 64)
			if f[2*j] != p.Label || math.Abs(prob-float64(p.Prob)) > 1e-5 {
				t.Fatalf("%s line %d: C++ %q, ours %v", path, i+1, line, got)
			}
		}
	}
}

// TestQuantizeMatchesCpp checks that quantizing (no cutoff) gives the same
// .ftz bytes as the C++ tool: k-means seeding (std::shuffle), iterations,
// norm quantization and the format.
func TestQuantizeMatchesCpp(t *testing.T) {
	bin := cpp(t)
	input := cookingSubset(t, 2000)
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	runCpp(t, bin, "supervised", "-input", input, "-output", base, "-dim", "16", "-bucket", "2000", "-wordNgrams", "2", "-thread", "1", "-verbose", "0")
	for _, args := range []string{"", "-qnorm", "-qnorm -qout -dsub 4"} {
		c, g := filepath.Join(dir, "c"), filepath.Join(dir, "g")
		for _, p := range []string{c, g} {
			b, _ := os.ReadFile(base + ".bin")
			os.WriteFile(p+".bin", b, 0o644)
		}
		runCpp(t, bin, append([]string{"quantize", "-input", input, "-output", c, "-verbose", "0"}, strings.Fields(args)...)...)
		runOurs(t, "", append([]string{"quantize", "-input", input, "-output", g, "-verbose", "0"}, strings.Fields(args)...)...)
		sameFile(t, c+".ftz", g+".ftz")
	}
}
