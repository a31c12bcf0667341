package evaluate

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

type fixtures struct {
	Regression []struct {
		Name           string     `json:"name"`
		True           []float64  `json:"true"`
		Pred           []float64  `json:"pred"`
		Range          [2]float64 `json:"range"`
		MSE            float64    `json:"mse"`
		MAE            float64    `json:"mae"`
		R2             float64    `json:"r2"`
		MacroF1        float64    `json:"rounded_macro_f1"`
		Accuracy       float64    `json:"rounded_accuracy"`
		RoundedClasses map[string]struct {
			Precision float64 `json:"precision"`
			Recall    float64 `json:"recall"`
			F1        float64 `json:"f1-score"`
			Support   float64 `json:"support"`
		} `json:"rounded_classes"`
	} `json:"regression"`
	Ranking []struct {
		Name          string    `json:"name"`
		Scores        []float64 `json:"scores"`
		Labels        []float64 `json:"labels"`
		PositiveFrom  *float64  `json:"positive_from"`
		Spearman      *float64  `json:"spearman"`
		KendallB      *float64  `json:"kendall_tau_b"`
		Positives     int       `json:"positives"`
		AUC           *float64  `json:"auc"`
		BestF1        *float64  `json:"best_f1"`
		BestThreshold *float64  `json:"best_threshold"`
	} `json:"ranking"`
}

func loadFixtures(t *testing.T) *fixtures {
	t.Helper()
	b, err := os.ReadFile(testutil.Testdata(t, "evaluate/fixtures.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f fixtures
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

func close9(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// TestRegressAgainstScikitLearn compares with the values scikit-learn
// computed for the same inputs (testdata/evaluate/make_fixtures.py).
func TestRegressAgainstScikitLearn(t *testing.T) {
	for _, c := range loadFixtures(t).Regression {
		t.Run(c.Name, func(t *testing.T) {
			r, err := Regress(c.True, c.Pred, c.Range[0], c.Range[1])
			if err != nil {
				t.Fatal(err)
			}
			if !close9(r.MSE, c.MSE) || !close9(r.MAE, c.MAE) || !close9(r.R2, c.R2) {
				t.Errorf("mse %v mae %v r2 %v; scikit-learn %v %v %v", r.MSE, r.MAE, r.R2, c.MSE, c.MAE, c.R2)
			}
			if !close9(r.MacroF1(), c.MacroF1) || !close9(r.Rounded.Accuracy, c.Accuracy) {
				t.Errorf("rounded macro F1 %v accuracy %v; scikit-learn %v %v", r.MacroF1(), r.Rounded.Accuracy, c.MacroF1, c.Accuracy)
			}
			if len(r.Rounded.Classes) != len(c.RoundedClasses) {
				t.Errorf("%d rounded classes, scikit-learn %d", len(r.Rounded.Classes), len(c.RoundedClasses))
			}
			for _, cl := range r.Rounded.Classes {
				w, ok := c.RoundedClasses[cl.Label]
				if !ok || !close9(cl.Precision, w.Precision) || !close9(cl.Recall, w.Recall) || !close9(cl.F1, w.F1) || float64(cl.Support) != w.Support {
					t.Errorf("class %s: %+v, scikit-learn %+v", cl.Label, cl, w)
				}
			}
		})
	}
}

func samePtr(got, want *float64) bool {
	if got == nil || want == nil {
		return got == nil && want == nil
	}
	return close9(*got, *want)
}

func str(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestRankAgainstScipy compares with scipy's correlations and
// scikit-learn's AUC and F1 for the same inputs.
func TestRankAgainstScipy(t *testing.T) {
	for _, c := range loadFixtures(t).Ranking {
		t.Run(c.Name, func(t *testing.T) {
			r, err := Rank(c.Scores, c.Labels, RankOptions{PositiveFrom: c.PositiveFrom})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range []struct {
				name      string
				got, want *float64
			}{
				{"spearman", r.Spearman, c.Spearman},
				{"kendall tau-b", r.KendallB, c.KendallB},
				{"auc", r.AUC, c.AUC},
				{"best f1", r.BestF1, c.BestF1},
				{"best threshold", r.BestThreshold, c.BestThreshold},
			} {
				if !samePtr(m.got, m.want) {
					t.Errorf("%s = %v, reference %v", m.name, str(m.got), str(m.want))
				}
			}
			if r.Positives != c.Positives {
				t.Errorf("%d positives, reference %d", r.Positives, c.Positives)
			}
		})
	}
}

// TestKendallHandChecked: x = 1 2 3 4, y = 1 3 2 2. Pairs: (1,2)+ (1,3)+
// (1,4)+ (2,3)− (2,4)− (3,4) tied in y: C=3, D=2, ties in y 1, none in x:
// τ-b = (3−2)/√(6·5).
func TestKendallHandChecked(t *testing.T) {
	got := KendallTauB([]float64{1, 2, 3, 4}, []float64{1, 3, 2, 2})
	if want := 1 / math.Sqrt(30); !close9(got, want) {
		t.Errorf("tau-b %v, want %v", got, want)
	}
	if !math.IsNaN(KendallTauB([]float64{1, 1}, []float64{1, 2})) {
		t.Error("tau-b of a constant input is defined")
	}
}

func TestRegressRankErrors(t *testing.T) {
	if _, err := Regress([]float64{1}, []float64{1, 2}, 0, 5); err == nil {
		t.Error("length mismatch accepted")
	}
	if _, err := Regress(nil, nil, 0, 5); err == nil {
		t.Error("no samples accepted")
	}
	if _, err := Regress([]float64{1}, []float64{math.NaN()}, 0, 5); err == nil {
		t.Error("NaN prediction accepted")
	}
	if _, err := Regress([]float64{1}, []float64{1}, 5, 0); err == nil {
		t.Error("empty range accepted")
	}
	if _, err := Rank([]float64{1}, nil, RankOptions{}); err == nil {
		t.Error("length mismatch accepted")
	}
	if _, err := Rank([]float64{math.Inf(1)}, []float64{1}, RankOptions{}); err == nil {
		t.Error("infinite score accepted")
	}
}
