package evaluate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// TestHandChecked checks a small case worked out by hand:
//
//	true: a a a b b c    pred: a a b b c c
//	a: tp 2, predicted 2, support 3 → P 1, R 2/3, F1 0.8
//	b: tp 1, predicted 2, support 2 → P 0.5, R 0.5, F1 0.5
//	c: tp 1, predicted 2, support 1 → P 0.5, R 1, F1 2/3
func TestHandChecked(t *testing.T) {
	yTrue := []string{"a", "a", "a", "b", "b", "c"}
	yPred := []string{"a", "a", "b", "b", "c", "c"}
	r, err := Classify(yTrue, yPred, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []ClassMetrics{
		{Label: "a", Precision: 1, Recall: 2.0 / 3, F1: 0.8, Support: 3},
		{Label: "b", Precision: 0.5, Recall: 0.5, F1: 0.5, Support: 2},
		{Label: "c", Precision: 0.5, Recall: 1, F1: 2.0 / 3, Support: 1},
	}
	for i, w := range want {
		g := r.Classes[i]
		if g.Label != w.Label || !near(g.Precision, w.Precision) || !near(g.Recall, w.Recall) || !near(g.F1, w.F1) || g.Support != w.Support {
			t.Errorf("class %d = %+v, want %+v", i, g, w)
		}
	}
	if !near(r.Accuracy, 4.0/6) {
		t.Errorf("accuracy %v, want 4/6", r.Accuracy)
	}
	if !near(r.MacroAvg.F1, (0.8+0.5+2.0/3)/3) {
		t.Errorf("macro F1 %v", r.MacroAvg.F1)
	}
	if !near(r.WeightedAvg.Recall, (3*(2.0/3)+2*0.5+1*1)/6) {
		t.Errorf("weighted recall %v", r.WeightedAvg.Recall)
	}
}

// TestROCAUCHandChecked: positives score 0.9 and 0.4, negatives 0.4 and
// 0.1. Of the four pairs, three are ordered right and one tied (0.5):
// AUC = 3.5/4.
func TestROCAUCHandChecked(t *testing.T) {
	auc, ok := ROCAUC([]bool{true, true, false, false}, []float64{0.9, 0.4, 0.4, 0.1})
	if !ok || !near(auc, 0.875) {
		t.Fatalf("AUC %v %v, want 0.875", auc, ok)
	}
	if _, ok := ROCAUC([]bool{true, true}, []float64{0.1, 0.2}); ok {
		t.Error("AUC with no negatives should be undefined")
	}
}

func TestErrors(t *testing.T) {
	if _, err := Classify([]string{"a"}, nil, nil); err == nil {
		t.Error("length mismatch accepted")
	}
	if _, err := Classify(nil, nil, nil); err == nil {
		t.Error("empty input accepted")
	}
	if _, err := Classify([]string{"a"}, []string{"a"}, []string{"a", "a"}); err == nil {
		t.Error("duplicate label accepted")
	}
}

// python returns a Python interpreter that has scikit-learn, or skips.
func python(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(p)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import sklearn").Run() == nil {
			return path
		}
	}
	t.Skip("no python3 with scikit-learn (Debian: python3-sklearn)")
	return ""
}

const sklearnScript = `
import json, sys
from sklearn.metrics import classification_report, roc_auc_score
import numpy as np
d = json.load(sys.stdin)
labels = sorted(set(d["true"]) | set(d["pred"]))
out = {
    "text": classification_report(d["true"], d["pred"], zero_division=0, digits=d["digits"]),
    "dict": classification_report(d["true"], d["pred"], zero_division=0, output_dict=True),
}
scores = np.array(d["scores"])
if len(labels) == 2:
    y = np.array([1 if t == labels[1] else 0 for t in d["true"]])
    out["auc"] = roc_auc_score(y, scores[:, 1])
else:
    out["auc"] = roc_auc_score(d["true"], scores, multi_class="ovr", average="macro", labels=labels)
json.dump(out, sys.stdout)
`

// TestAgainstScikitLearn compares reports and AUCs with scikit-learn's on
// random binary and multiclass data (run when python3-sklearn is installed).
func TestAgainstScikitLearn(t *testing.T) {
	py := python(t)
	for seed, nclass := range []int{2, 2, 3, 5} {
		t.Run(fmt.Sprintf("%d-classes-%d", nclass, seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(seed), 7))
			labels := []string{"neg", "pos", "mid", "x", "__label__long-name"}[:nclass]
			n := 200 + r.IntN(300)
			var yTrue, yPred []string
			var scores [][]float64
			for range n {
				truth := r.IntN(nclass)
				row := make([]float64, nclass)
				var sum float64
				for j := range row {
					row[j] = r.Float64()
					if j == truth {
						row[j] += 0.7 * r.Float64()
					}
					row[j] = math.Round(row[j]*50) / 50 // ties
					sum += row[j]
				}
				best := 0
				for j := range row {
					row[j] /= sum
					if row[j] > row[best] {
						best = j
					}
				}
				yTrue = append(yTrue, labels[truth])
				yPred = append(yPred, labels[best])
				scores = append(scores, row)
			}
			rep, err := Classify(yTrue, yPred, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Reorder the score columns to the report's (sorted) classes.
			pos := map[string]int{}
			for j, l := range labels {
				pos[l] = j
			}
			sorted := make([][]float64, n)
			for i, row := range scores {
				for _, c := range rep.Classes {
					sorted[i] = append(sorted[i], row[pos[c.Label]])
				}
			}
			if err := rep.AddScores(yTrue, sorted); err != nil {
				t.Fatal(err)
			}
			in, _ := json.Marshal(map[string]any{"true": yTrue, "pred": yPred, "scores": sorted, "digits": 4})
			cmd := exec.Command(py, "-c", sklearnScript)
			cmd.Stdin = bytes.NewReader(in)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			outb, err := cmd.Output()
			if err != nil {
				t.Fatalf("scikit-learn: %v\n%s", err, stderr.String())
			}
			var sk struct {
				Text string                     `json:"text"`
				Dict map[string]json.RawMessage `json:"dict"`
				AUC  float64                    `json:"auc"`
			}
			if err := json.Unmarshal(outb, &sk); err != nil {
				t.Fatal(err)
			}
			type row struct {
				P  float64 `json:"precision"`
				R  float64 `json:"recall"`
				F1 float64 `json:"f1-score"`
				S  float64 `json:"support"`
			}
			get := func(key string) row {
				var v row
				if err := json.Unmarshal(sk.Dict[key], &v); err != nil {
					t.Fatalf("%s: %v", key, err)
				}
				return v
			}
			for _, c := range rep.Classes {
				w := get(c.Label)
				if !near(c.Precision, w.P) || !near(c.Recall, w.R) || !near(c.F1, w.F1) || float64(c.Support) != w.S {
					t.Errorf("%s: %+v, scikit-learn %+v", c.Label, c, w)
				}
			}
			for name, a := range map[string]Average{"macro avg": rep.MacroAvg, "weighted avg": rep.WeightedAvg} {
				w := get(name)
				if !near(a.Precision, w.P) || !near(a.Recall, w.R) || !near(a.F1, w.F1) || float64(a.Support) != w.S {
					t.Errorf("%s: %+v, scikit-learn %+v", name, a, w)
				}
			}
			var acc float64
			json.Unmarshal(sk.Dict["accuracy"], &acc)
			if !near(rep.Accuracy, acc) {
				t.Errorf("accuracy %v, scikit-learn %v", rep.Accuracy, acc)
			}
			if rep.AUC == nil || math.Abs(*rep.AUC-sk.AUC) > 1e-9 {
				t.Errorf("AUC %v, scikit-learn %v", rep.AUC, sk.AUC)
			}
			if got := rep.Format(4); !strings.HasPrefix(got, sk.Text) {
				t.Errorf("text report differs:\n%s\nscikit-learn:\n%s", got, sk.Text)
			}
		})
	}
}
