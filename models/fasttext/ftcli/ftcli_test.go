package ftcli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/models/fasttext"
)

func run(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Main(context.Background(), args, IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb})
	return out.String(), errb.String(), err
}

func fixture(t *testing.T, name string) string {
	return testutil.Testdata(t, filepath.Join("fasttext", "fasttext-net", name))
}

// labelledData writes the oracle sentences with their first label.
func labelledData(t *testing.T, repeat int) (string, []string, []string) {
	t.Helper()
	b, err := os.ReadFile(fixture(t, "synthetic_oracle.json"))
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
	var labels, texts []string
	var sb strings.Builder
	for _, m := range models {
		for _, c := range m.Cases {
			labels = append(labels, c.Labels[0])
			texts = append(texts, c.Text)
		}
	}
	for range repeat {
		for i := range texts {
			fmt.Fprintf(&sb, "%s %s\n", labels[i], texts[i])
		}
	}
	p := filepath.Join(t.TempDir(), "data.txt")
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, labels, texts
}

// TestPredictOutput checks predict and predict-prob against the library,
// reading a file and stdin ("-").
func TestPredictOutput(t *testing.T) {
	model := fixture(t, "softmax.bin")
	m, err := fasttext.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	_, _, texts := labelledData(t, 1)
	input := strings.Join(texts, "\n") + "\n"
	out, _, err := run(t, input, "predict-prob", model, "-", "2")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%d lines for %d texts", len(lines), len(texts))
	}
	for i, line := range lines {
		p := m.Predict(texts[i], 2, 0)
		want := fmt.Sprintf("%s %s %s %s", p[0].Label, strconv.FormatFloat(float64(p[0].Prob), 'g', 6, 64),
			p[1].Label, strconv.FormatFloat(float64(p[1].Prob), 'g', 6, 64))
		if line != want {
			t.Errorf("line %d: %q, want %q", i+1, line, want)
		}
	}
	out, _, err = run(t, input, "predict", model, "-")
	if err != nil {
		t.Fatal(err)
	}
	if first := strings.SplitN(out, "\n", 2)[0]; first != m.Predict(texts[0], 1, 0)[0].Label {
		t.Errorf("predict printed %q", first)
	}
	// A threshold above every probability prints empty lines.
	out, _, err = run(t, "a b c\nd e f\n", "predict", model, "-", "1", "1.5")
	if err != nil || out != "\n\n" {
		t.Errorf("threshold 1.5: %q, %v", out, err)
	}
}

// TestTestLabel checks test and test-label against counts computed from
// the predictions: fastText 0.9.2 (Debian) prints recall as undefined and a
// wrong F1; this command prints the correct values.
func TestTestLabel(t *testing.T) {
	model := fixture(t, "ns.bin")
	m, err := fasttext.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	data, labels, texts := labelledData(t, 1)
	out, _, err := run(t, "", "test-label", model, data, "2")
	if err != nil {
		t.Fatal(err)
	}
	tp, pred, gold := map[string]int{}, map[string]int{}, map[string]int{}
	correct := 0
	for i, text := range texts {
		gold[labels[i]]++
		for _, p := range m.Predict(text, 2, 0) {
			pred[p.Label]++
			if p.Label == labels[i] {
				tp[p.Label]++
				correct++
			}
		}
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	ratio := func(num, den int) string {
		if den == 0 {
			return "--------"
		}
		return fmt.Sprintf("%.6f", float64(num)/float64(den))
	}
	for i, label := range m.Labels() {
		want := fmt.Sprintf("F1-Score : %s  Precision : %s  Recall : %s   %s",
			ratio(2*tp[label], pred[label]+gold[label]), ratio(tp[label], pred[label]), ratio(tp[label], gold[label]), label)
		if lines[i] != want {
			t.Errorf("label line %d: %q\nwant          %q", i+1, lines[i], want)
		}
	}
	n := len(texts)
	tail := strings.Join(lines[len(m.Labels()):], "\n")
	want := fmt.Sprintf("N\t%d\nP@2\t%.3f\nR@2\t%.3f", n, float64(correct)/float64(2*n), float64(correct)/float64(n))
	if tail != want {
		t.Errorf("totals %q, want %q", tail, want)
	}
	out, _, err = run(t, "", "test", model, data)
	if err != nil || !strings.HasPrefix(out, fmt.Sprintf("N\t%d\nP@1\t", n)) {
		t.Errorf("test: %q, %v", out, err)
	}
}

// TestSupervisedArguments trains through the command line with fastText's
// argument syntax and checks the files written.
func TestSupervisedArguments(t *testing.T) {
	data, _, _ := labelledData(t, 3)
	out := filepath.Join(t.TempDir(), "model")
	_, _, err := run(t, "", "supervised", "-input", data, "-output", out, "-dim", "8", "--epoch", "7",
		"-lr=0.3", "-wordNgrams", "2", "-bucket", "1000", "-thread", "1", "-verbose", "0", "-saveOutput", "-loss", "ova", "-minn", "2", "-maxn", "3")
	if err != nil {
		t.Fatal(err)
	}
	m, err := fasttext.Load(out + ".bin")
	if err != nil {
		t.Fatal(err)
	}
	a := m.Args()
	if a.Dim != 8 || a.Epoch != 7 || a.WordNgrams != 2 || a.Bucket != 1000 || a.Loss != fasttext.LossOVA || a.Minn != 2 || a.Maxn != 3 || a.MinCount != 1 {
		t.Errorf("stored arguments %+v", a)
	}
	vec, err := os.ReadFile(out + ".vec")
	if err != nil || !strings.HasPrefix(string(vec), fmt.Sprintf("%d 8\n", m.NumWords())) {
		t.Errorf(".vec header: %.30q, %v", vec, err)
	}
	outVec, err := os.ReadFile(out + ".output")
	if err != nil || !strings.HasPrefix(string(outVec), fmt.Sprintf("%d 8\n", len(m.Labels()))) {
		t.Errorf(".output header: %.30q, %v", outVec, err)
	}
	// Without word n-grams or subwords the bucket count drops to 0, as in
	// fastText.
	_, _, err = run(t, "", "supervised", "-input", data, "-output", out, "-dim", "4", "-thread", "1", "-verbose", "0")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := fasttext.Load(out + ".bin"); err != nil || m.Args().Bucket != 0 {
		t.Errorf("bucket %d, %v", m.Args().Bucket, err)
	}
}

func TestUsageErrors(t *testing.T) {
	data, _, _ := labelledData(t, 1)
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"supervised", "-input", data},
		{"supervised", "-input", data, "-output", "x", "-unknown", "1"},
		{"supervised", "-input", data, "-output", "x", "stray"},
		{"supervised", "-h"},
		{"predict", fixture(t, "softmax.bin")},
		{"test", fixture(t, "softmax.bin"), data, "1", "0", "extra"},
	} {
		_, stderr, err := run(t, "", args...)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("%v: error %v, want a usage error", args, err)
		}
		if stderr == "" {
			t.Errorf("%v: no usage printed", args)
		}
	}
	for _, args := range [][]string{
		{"predict", fixture(t, "softmax.bin"), data, "0"},
		{"predict", filepath.Join(t.TempDir(), "missing.bin"), data},
		{"supervised", "-input", "-", "-output", "x"},
		{"supervised", "-input", data, "-output", "x", "-loss", "hinge"},
		{"skipgram", "-input", data, "-output", "x"},
	} {
		if _, _, err := run(t, "", args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// TestQuantizeCommand quantizes through the command line.
func TestQuantizeCommand(t *testing.T) {
	data, _, texts := labelledData(t, 3)
	out := filepath.Join(t.TempDir(), "model")
	if _, _, err := run(t, "", "supervised", "-input", data, "-output", out, "-dim", "8", "-bucket", "2000", "-wordNgrams", "2", "-thread", "1", "-verbose", "0"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "", "quantize", "-input", data, "-output", out, "-qnorm", "-verbose", "0"); err != nil {
		t.Fatal(err)
	}
	m, err := fasttext.Load(out + ".ftz")
	if err != nil || !m.Quantized() {
		t.Fatalf("quantized model: %v", err)
	}
	if p := m.Predict(texts[0], 1, 0); len(p) != 1 {
		t.Errorf("prediction %v", p)
	}
}

func TestSentenceAndWordVectors(t *testing.T) {
	model := fixture(t, "hs.bin")
	m, err := fasttext.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, "hello good morning\n", "print-sentence-vectors", model)
	if err != nil {
		t.Fatal(err)
	}
	want := m.SentenceVector("hello good morning")
	fields := strings.Fields(out)
	if len(fields) != len(want) {
		t.Fatalf("%d values, want %d", len(fields), len(want))
	}
	for i, f := range fields {
		if f != strconv.FormatFloat(float64(want[i]), 'g', 5, 64) {
			t.Errorf("value %d = %s, want %v", i, f, want[i])
		}
	}
	out, _, err = run(t, "hello  pizza\n", "print-word-vectors", model)
	if err != nil || !strings.HasPrefix(out, "hello ") || strings.Count(out, "\n") != 2 {
		t.Errorf("print-word-vectors: %q, %v", out, err)
	}
}
