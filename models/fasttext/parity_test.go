package fasttext

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

type oracleCase struct {
	Text   string    `json:"text"`
	Labels []string  `json:"labels"`
	Probs  []float64 `json:"probs"`
}

func checkOracle(t *testing.T, m *Model, c oracleCase) {
	t.Helper()
	got := m.Predict(c.Text, len(c.Labels), 0)
	if len(got) != len(c.Labels) {
		t.Errorf("%q: got %d predictions %v, want %d", c.Text, len(got), got, len(c.Labels))
		return
	}
	for i, p := range got {
		if p.Label != c.Labels[i] || math.Abs(float64(p.Prob)-c.Probs[i]) > 1e-5 {
			t.Errorf("%q: prediction %d = %s %.7f, want %s %.7f", c.Text, i, p.Label, p.Prob, c.Labels[i], c.Probs[i])
		}
	}
}

// TestLanguageIDOracle checks lid.176.ftz (quantized, hierarchical softmax,
// pruned dictionary) against the top-5 labels and probabilities fastText
// gives for 17 sentences.
func TestLanguageIDOracle(t *testing.T) {
	model := testutil.SharedData(t, "fasttext/lid.176.ftz")
	oracle := testutil.SharedData(t, "fasttext/fasttext-net-fixtures/oracle_lid.json")
	m, err := Load(model)
	if err != nil {
		t.Fatal(err)
	}
	var cases []oracleCase
	testutil.ReadJSON(t, oracle, &cases)
	if len(cases) != 17 {
		t.Fatalf("oracle has %d cases, want 17", len(cases))
	}
	for _, c := range cases {
		checkOracle(t, m, c)
	}
}

// syntheticPath returns the path of a FastText.Net fixture (copied into
// testdata/fasttext).
func syntheticPath(t *testing.T, name string) string {
	t.Helper()
	return testutil.Testdata(t, filepath.Join("fasttext", "fasttext-net", name))
}

// TestSyntheticOracles checks the four losses on models trained by fastText.
func TestSyntheticOracles(t *testing.T) {
	var models []struct {
		Model string       `json:"model"`
		Loss  string       `json:"loss"`
		Dim   int          `json:"dim"`
		Cases []oracleCase `json:"cases"`
	}
	testutil.ReadJSON(t, syntheticPath(t, "synthetic_oracle.json"), &models)
	if len(models) != 4 {
		t.Fatalf("oracle has %d models, want 4", len(models))
	}
	for _, om := range models {
		t.Run(om.Loss, func(t *testing.T) {
			m, err := Load(syntheticPath(t, om.Model))
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Args().Loss.String(); got != om.Loss && !(om.Loss == "ova" && got == "one-vs-all") {
				t.Errorf("loss %s, want %s", got, om.Loss)
			}
			for _, c := range om.Cases {
				checkOracle(t, m, c)
			}
		})
	}
}
