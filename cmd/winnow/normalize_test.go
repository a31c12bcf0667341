package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/internal/testutil/fakecloud"
	"github.com/winnowlabs/winnow/transforms/ftdata"
)

func TestNormalizeAndToFastTextCommands(t *testing.T) {
	data := filepath.Join(testutil.RepoRoot(t), "data", "fineweb-edu-llama3-sample")
	dir := t.TempDir()
	steps := []struct {
		args []string
		want []string
	}{
		{[]string{"import", "-i", data, "-o", dir + "/imported", "--test-split", "0.3"},
			[]string{"2,000 rows in, 2,000 out"}},
		{[]string{"normalize", "-i", dir + "/imported", "-o", dir + "/normalized", "-n", "whitespace", "-l", "scores.score"},
			[]string{"normalize: 2,000 rows in, 2,000 out, 0 bad"}},
		{[]string{"to-fasttext", "-i", dir + "/normalized", "-o", dir + "/ft", "-l", "scores.score", "--auto", "3", "--max-length", "1000"},
			[]string{"to-fasttext: 2,000 rows in, 2,000 out, 0 bad", "train: 700 lines; labels: 0 ", "valid: 1,000 lines", "test: 300 lines",
				"auto bins from the training labels: edges [", "normalizer whitespace 1; report: " + dir + "/ft/report.json"}},
	}
	for _, s := range steps {
		out, err := runCLI(t, s.args...)
		if err != nil {
			t.Fatalf("winnow %s: %v\n%s", strings.Join(s.args, " "), err, out)
		}
		for _, w := range s.want {
			if !strings.Contains(out, w) {
				t.Errorf("winnow %s: output lacks %q:\n%s", s.args[0], w, out)
			}
		}
	}

	b, err := os.ReadFile(filepath.Join(dir, "normalized", "_manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Options struct {
			TextExpression  string `json:"text_expression"`
			LabelExpression string `json:"label_expression"`
			Normalizer      struct{ Name, Version string }
		}
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if o := m.Options; o.TextExpression != ".text" || o.LabelExpression != ".scores.score" || o.Normalizer.Name != "whitespace" || o.Normalizer.Version == "" {
		t.Errorf("normalize manifest options %+v", o)
	}

	rep, err := ftdata.ReadReport(context.Background(), filepath.Join(dir, "ft"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.LabelExpression != ".scores.score" || rep.MaxLength != 1000 || len(rep.AutoBins) < 3 || rep.Normalizer.Name != "whitespace" || rep.Splits["train"].Rows != 700 {
		t.Errorf("report %+v", rep)
	}
	train, err := os.ReadFile(filepath.Join(dir, "ft", ftdata.TrainName))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(train), "\n"); n != 700 || !strings.HasPrefix(string(train), "__label__") {
		t.Errorf("train.txt: %d lines, starting %.40q", n, train)
	}
}

func TestFastTextFlagsAreClearErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"to-fasttext", "-i", "x", "-o", "y", "--auto", "2", "--multi-label"}, "none of the others can be; [auto multi-label]"},
		{[]string{"to-fasttext", "-i", "x", "-o", "y", "--compression", "zst"}, "fastText files are plain text"},
		{[]string{"to-fasttext", "-i", "x", "-o", "y", "-n", "ultrafine"}, `normalizer "ultrafine" needs a tokenizer`},
		{[]string{"normalize", "-i", "x", "-o", "y", "--tokenizer", "tok.json"}, "the plsfix normalizer uses no tokenizer"},
		{[]string{"normalize", "-i", "x", "-o", "y", "-n", "fancy"}, `unknown normalizer "fancy"`},
	} {
		_, err := runCLI(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("winnow %s: error %v, want it to mention %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

// TestToFastTextDataflowDryRun translates to-fasttext, with its measuring
// pass and the step that gathers the parts, into a Dataflow job without
// submitting it.
func TestToFastTextDataflowDryRun(t *testing.T) {
	data := filepath.Join(testutil.RepoRoot(t), "data", "fineweb-edu-llama3-sample")
	dir := t.TempDir()
	// In a subtest, so that the flags the local run sets are restored
	// before the Dataflow translation.
	t.Run("Import", func(t *testing.T) {
		if out, err := runCLI(t, "import", "-i", data, "-o", dir+"/imported", "--test-split", "0.3"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	// Dataflow's workers read and write gs://, here a fake GCS.
	fakecloud.StartGCS(t, "winnow-test")
	in := toGCS(t, dir+"/imported", "gs://winnow-test/imported")
	out, err := runCLI(t, "to-fasttext", "-i", in, "-o", "gs://winnow-test/ft", "-l", "scores.score", "--auto", "3",
		"--runner=dataflow", "--dry_run", "--project=winnow-test", "--region=us-central1",
		"--staging_location=gs://winnow-test/staging", "--temp_location=gs://winnow-test/tmp")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "to-fasttext: submitted to dataflow") {
		t.Fatalf("output %q", out)
	}
}
