package flow

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/internal/testutil/encoderref"
	"github.com/winnowlabs/winnow/models"
)

// TestEncoderFlowTrainsAndFilters trains a regressor head on the tiny
// random BERT of the parity fixtures in a flow and filters the pool with
// it: the model, its evaluation and the filter all use the classifier's
// forward-pass options.
func TestEncoderFlowTrainsAndFilters(t *testing.T) {
	ctx := context.Background()
	exp := t.TempDir()
	src := fmt.Sprintf(`pool: {inputs: [%s]}
label: {expression: .scores.score}
split: {test: 0.2, files: 2, seed: 1}
classifiers:
  - name: bert
    kind: encoder
    options: {base: %s, epochs: 2, batch_size: 64, lr: 0.001, range: [0, 5], max_length: 48, forward_batch_size: 16, seed: 1}
filter: {keep_fraction: 0.1}
`, filepath.Join(testutil.RepoRoot(t), "data", "fineweb-edu-llama3-sample"), encoderref.ClassifierDir(t))
	s, err := Parse("encoder.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s.Experiment = exp
	res, err := Run(ctx, s, Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran(res), " "); got != "label split train-bert select filter" {
		t.Fatalf("ran %q", got)
	}
	rep, err := BuildReport(context.Background(), exp)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Classifiers) != 1 {
		t.Fatalf("report classifiers %+v", rep.Classifiers)
	}
	c := rep.Classifiers[0]
	if c.Kind != models.KindEncoder || c.Test == nil || c.Test.Regression == nil || c.Metrics["mae"] <= 0 || len(c.Scatter) != 400 {
		t.Errorf("classifier report %+v", c)
	}

	// Training ran the encoder with the flow's options.
	var man struct {
		TrainingArgs map[string]any `json:"training_args"`
	}
	testutil.ReadJSON(t, filepath.Join(c.ModelDir, "manifest.json"), &man)
	if man.TrainingArgs["max_length"] != 48.0 || man.TrainingArgs["epochs"] != 2.0 || man.TrainingArgs["batch_size"] != 64.0 {
		t.Errorf("training args %v", man.TrainingArgs)
	}
	// The filter scored with the encoder's forward-pass options.
	var fm struct {
		Options struct {
			Model struct {
				Path      string `json:"path"`
				BatchSize int    `json:"batch_size"`
				MaxLength int    `json:"max_length"`
			} `json:"model"`
		} `json:"options"`
	}
	testutil.ReadJSON(t, filepath.Join(rep.Filter.Dir, "_manifest.json"), &fm)
	if fm.Options.Model.Path != c.ModelDir || fm.Options.Model.BatchSize != 16 || fm.Options.Model.MaxLength != 48 {
		t.Errorf("the filter's model options %+v", fm.Options.Model)
	}
	if f := rep.Filter.Report; f.RowsIn != 2000 || f.Kept < 150 || f.Kept > 250 {
		t.Errorf("the filter kept %d of %d rows, want about 200 of 2000", f.Kept, f.RowsIn)
	}

	// A second run does nothing.
	again, err := Run(ctx, s, Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := ran(again); len(r) != 0 {
		t.Errorf("a second run ran %v", r)
	}

	// Another head option trains the head again on the same [CLS] states.
	stamps := map[string]time.Time{}
	_ = filepath.WalkDir(FeaturesDir(exp, "bert"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(d.Name(), ".jsonl") {
			if info, err := d.Info(); err == nil {
				stamps[p] = info.ModTime()
			}
		}
		return nil
	})
	if len(stamps) == 0 {
		t.Fatalf("no feature shards in %s", FeaturesDir(exp, "bert"))
	}
	s2, err := Parse("encoder.yaml", []byte(strings.Replace(src, "lr: 0.001", "lr: 0.002", 1)))
	if err != nil {
		t.Fatal(err)
	}
	s2.Experiment = exp
	res, err = Run(ctx, s2, Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran(res), " "); got != "train-bert select filter" {
		t.Errorf("a new learning rate ran %q", got)
	}
	for f, at := range stamps {
		if st, err := os.Stat(f); err != nil || !st.ModTime().Equal(at) {
			t.Errorf("%s was embedded again", f)
		}
	}
}
