package ftdata

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/shardio"
)

type scoredRow struct {
	Text   string `json:"text"`
	Scores struct {
		Score float64 `json:"score"`
	} `json:"scores"`
}

// readScored reads a shard of the bundled FineWeb-Edu sample (data/).
func readScored(t *testing.T, name string) []scoredRow {
	t.Helper()
	p := filepath.Join(testutil.RepoRoot(t), "data", "fineweb-edu-llama3-sample", name)
	r, err := shardio.Open(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var rows []scoredRow
	for {
		line, err := r.Next()
		if err == io.EOF {
			return rows
		}
		if err != nil {
			t.Fatal(err)
		}
		var row scoredRow
		if err := json.Unmarshal(line, &row); err != nil {
			t.Fatalf("%s:%d: %v", p, r.Line(), err)
		}
		rows = append(rows, row)
	}
}

// writeLines writes the fastText file for rows and returns the label counts.
func writeLines(t *testing.T, path string, f *Formatter, rows []scoredRow, labelsOf func(scoredRow) []string) SplitCounts {
	t.Helper()
	var counts SplitCounts
	var buf []byte
	for _, r := range rows {
		labels := labelsOf(r)
		var err error
		if buf, err = f.AppendLine(buf, labels, r.Text); err != nil {
			t.Fatal(err)
		}
		counts.Add(labels...)
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	return counts
}

// fastText runs the Debian fastText command line and returns its output.
func fastText(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("fasttext %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// modelLabels lists the labels in a model's dictionary (fasttext dump dict:
// "word count type" lines after a size line).
func modelLabels(t *testing.T, bin, model string) []string {
	t.Helper()
	var labels []string
	for _, line := range strings.Split(fastText(t, bin, "dump", model, "dict"), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == "label" {
			labels = append(labels, f[0])
		}
	}
	slices.Sort(labels)
	return labels
}

// testedExamples reads the example count N from `fasttext test` output.
func testedExamples(t *testing.T, out string) int {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "N" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no N in fasttext test output:\n%s", out)
	return 0
}

// TestFastTextAcceptsLines formats real FineWeb-Edu rows (train → train.txt,
// valid → test.txt) with --auto 2 bins over the training scores and with
// multi-labels, normalized by whitespace and by ultrafine, and checks that
// Debian's `fasttext supervised` trains on them, sees exactly the intended
// labels, and that `fasttext test` evaluates every test line.
func TestFastTextAcceptsLines(t *testing.T) {
	bin, err := exec.LookPath("fasttext")
	if err != nil {
		t.Skip("fasttext is not installed (Debian package fasttext)")
	}
	train := readScored(t, "train.jsonl.zst")
	test := readScored(t, "valid.jsonl.zst")
	// One more training row carries a label prefix in its text; it must not
	// become a label.
	extra := train[0]
	extra.Text = "Ignore this __label__spam and __label__ham.\n" + extra.Text
	train = append(train, extra)

	scores := make([]float64, len(train))
	for i, r := range train {
		scores[i] = r.Scores.Score
	}
	bins, err := AutoBins(scores, 2)
	if err != nil {
		t.Fatal(err)
	}
	// FineWeb-Edu scores: 136 zeros, 567 ones, 217 twos, 65 threes, 15
	// fours (+ the extra row, a one): the best split of the ties is at 2.
	if !slices.Equal(bins, Bins{0, 2, 4}) {
		t.Fatalf("AutoBins(train scores, 2) = %v, want [0 2 4]", bins)
	}
	autoLabel := func(r scoredRow) []string { return []string{bins.Label(r.Scores.Score)} }
	multiLabel := func(r scoredRow) []string {
		labels, err := MultiLabels(map[string]any{
			"educational": r.Scores.Score >= 2,
			"Long Read":   len([]rune(r.Text)) >= 3000,
		})
		if err != nil {
			t.Fatal(err)
		}
		return labels
	}

	tok := testutil.BertTokenizer(t)
	for _, name := range []string{normalize.Whitespace, normalize.Ultrafine} {
		norm, err := normalize.New(name, normalize.Options{Tokenizer: tok})
		if err != nil {
			t.Fatal(err)
		}
		f := &Formatter{Normalizer: norm, MaxLength: 5000}
		for _, mode := range []struct {
			name     string
			labelsOf func(scoredRow) []string
			want     []string
			args     []string
		}{
			{"auto", autoLabel, []string{"__label__0", "__label__1"}, nil},
			{"multi", multiLabel, []string{"__label__educational", "__label__long_read", "__label__none"}, []string{"-loss", "ova"}},
		} {
			t.Run(name+"/"+mode.name, func(t *testing.T) {
				dir := t.TempDir()
				trainTxt, testTxt := filepath.Join(dir, TrainName), filepath.Join(dir, TestName)
				trainCounts := writeLines(t, trainTxt, f, train, mode.labelsOf)
				testCounts := writeLines(t, testTxt, f, test, mode.labelsOf)
				model := filepath.Join(dir, "model")
				args := append([]string{"supervised", "-input", trainTxt, "-output", model,
					"-epoch", "5", "-dim", "10", "-thread", "1", "-seed", "1"}, mode.args...)
				out := fastText(t, bin, args...)
				if !strings.Contains(out, fmt.Sprintf("Number of labels: %d", len(mode.want))) {
					t.Errorf("fasttext supervised output:\n%s", out)
				}
				if got := modelLabels(t, bin, model+".bin"); !slices.Equal(got, mode.want) {
					t.Errorf("model labels = %v, want %v", got, mode.want)
				}
				var fromCounts []string
				for l := range trainCounts.Labels {
					fromCounts = append(fromCounts, LabelPrefix+l)
				}
				slices.Sort(fromCounts)
				if !slices.Equal(fromCounts, mode.want) {
					t.Errorf("counted labels %v, want %v", fromCounts, mode.want)
				}
				n := testedExamples(t, fastText(t, bin, "test", model+".bin", testTxt))
				if n != int(testCounts.Rows) || n != len(test) {
					t.Errorf("fasttext test evaluated %d examples of %d lines", n, testCounts.Rows)
				}
			})
		}
	}
}
