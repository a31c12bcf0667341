// Package evaluate computes classification metrics as scikit-learn defines
// them: per-class precision, recall, F1 and support, accuracy, macro and
// support-weighted averages (sklearn.metrics.classification_report), and ROC
// AUC for binary and one-vs-rest multiclass scores (roc_auc_score). It is
// independent of the model kind.
package evaluate

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// ClassMetrics are one class's scores.
type ClassMetrics struct {
	Label     string  `json:"label"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	// Support is the number of true instances of the class.
	Support int `json:"support"`
	// AUC is the one-vs-rest ROC AUC of the class's scores, when scores
	// were given and the class has both positive and negative examples.
	AUC *float64 `json:"auc,omitempty"`
}

// Average holds averaged precision, recall and F1 over the classes.
type Average struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

// Report is a classification report.
type Report struct {
	Classes  []ClassMetrics `json:"classes"`
	Accuracy float64        `json:"accuracy"`
	// MacroAvg is the unweighted mean over classes; WeightedAvg weighs each
	// class by its support.
	MacroAvg    Average `json:"macro_avg"`
	WeightedAvg Average `json:"weighted_avg"`
	// AUC is the ROC AUC: for two classes, of the second class's scores
	// (sklearn's positive label, the greater one); for more, the macro
	// average of the one-vs-rest AUCs. Nil without scores or when undefined.
	AUC     *float64 `json:"auc,omitempty"`
	Samples int      `json:"samples"`
}

// Classify builds a report from true and predicted labels. labels fixes the
// classes and their order; when nil, the classes are the sorted union of
// yTrue and yPred, as in scikit-learn. Undefined ratios (a class never
// predicted, or never present) are 0, scikit-learn's zero_division default.
func Classify(yTrue, yPred []string, labels []string) (*Report, error) {
	if len(yTrue) != len(yPred) {
		return nil, fmt.Errorf("evaluate: %d true labels but %d predictions", len(yTrue), len(yPred))
	}
	if len(yTrue) == 0 {
		return nil, fmt.Errorf("evaluate: no samples")
	}
	if labels == nil {
		labels = UniqueLabels(yTrue, yPred)
	}
	index := make(map[string]int, len(labels))
	for i, l := range labels {
		if _, dup := index[l]; dup {
			return nil, fmt.Errorf("evaluate: label %q listed twice", l)
		}
		index[l] = i
	}
	tp := make([]int, len(labels))
	predicted := make([]int, len(labels))
	support := make([]int, len(labels))
	correct := 0
	for i, t := range yTrue {
		p := yPred[i]
		if t == p {
			correct++
		}
		ti, tok := index[t]
		pi, pok := index[p]
		if tok {
			support[ti]++
		}
		if pok {
			predicted[pi]++
		}
		if tok && pok && ti == pi {
			tp[ti]++
		}
	}
	r := &Report{Accuracy: float64(correct) / float64(len(yTrue)), Samples: len(yTrue)}
	total := 0
	for i, l := range labels {
		c := ClassMetrics{Label: l, Support: support[i]}
		c.Precision = ratio(tp[i], predicted[i])
		c.Recall = ratio(tp[i], support[i])
		if c.Precision+c.Recall > 0 {
			c.F1 = 2 * c.Precision * c.Recall / (c.Precision + c.Recall)
		}
		r.Classes = append(r.Classes, c)
		total += support[i]
	}
	r.MacroAvg = meanOf(r.Classes, func(c ClassMetrics) float64 { return 1 }, total)
	r.WeightedAvg = meanOf(r.Classes, func(c ClassMetrics) float64 { return float64(c.Support) }, total)
	return r, nil
}

// meanOf averages the class scores with weights, summing in class order as
// numpy's average does.
func meanOf(classes []ClassMetrics, weight func(ClassMetrics) float64, support int) Average {
	var sw, p, r, f float64
	for _, c := range classes {
		w := weight(c)
		sw += w
		p += w * c.Precision
		r += w * c.Recall
		f += w * c.F1
	}
	a := Average{Support: support}
	if sw > 0 {
		a.Precision, a.Recall, a.F1 = p/sw, r/sw, f/sw
	}
	return a
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// UniqueLabels returns the sorted distinct labels of the given slices.
func UniqueLabels(sets ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range sets {
		for _, l := range s {
			if !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	sort.Strings(out)
	return out
}

// AddScores computes the ROC AUCs from per-class scores: scores[i][j] is the
// score of sample i for class r.Classes[j] (e.g. its probability). yTrue
// must be the labels the report was built from.
func (r *Report) AddScores(yTrue []string, scores [][]float64) error {
	if len(yTrue) != len(scores) {
		return fmt.Errorf("evaluate: %d true labels but %d score rows", len(yTrue), len(scores))
	}
	for i, row := range scores {
		if len(row) != len(r.Classes) {
			return fmt.Errorf("evaluate: score row %d has %d values for %d classes", i, len(row), len(r.Classes))
		}
	}
	pos := make([]bool, len(yTrue))
	col := make([]float64, len(yTrue))
	var sum float64
	defined := 0
	for j := range r.Classes {
		for i, t := range yTrue {
			pos[i] = t == r.Classes[j].Label
			col[i] = scores[i][j]
		}
		if auc, ok := ROCAUC(pos, col); ok {
			r.Classes[j].AUC = &auc
			if r.Classes[j].Support > 0 {
				sum += auc
				defined++
			}
		}
	}
	r.AUC = nil
	switch {
	case len(r.Classes) == 2:
		r.AUC = r.Classes[1].AUC
	case defined > 0:
		macro := sum / float64(defined)
		r.AUC = &macro
	}
	return nil
}

// ROCAUC returns the area under the ROC curve of scores for the positive
// samples (positive[i]) against the negative ones, counting ties as half, as
// scikit-learn's roc_auc_score does. ok is false when either class is
// missing, where the AUC is undefined.
func ROCAUC(positive []bool, scores []float64) (auc float64, ok bool) {
	n := len(scores)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case scores[a] > scores[b]:
			return -1
		case scores[a] < scores[b]:
			return 1
		}
		return 0
	})
	var npos, nneg float64
	for _, p := range positive {
		if p {
			npos++
		} else {
			nneg++
		}
	}
	if npos == 0 || nneg == 0 {
		return math.NaN(), false
	}
	// Trapezoids between consecutive distinct thresholds.
	var tp, fp, prevTP, prevFP, area float64
	for i := 0; i < n; {
		j := i
		for j < n && scores[idx[j]] == scores[idx[i]] {
			if positive[idx[j]] {
				tp++
			} else {
				fp++
			}
			j++
		}
		area += (fp - prevFP) * (tp + prevTP) / 2
		prevTP, prevFP = tp, fp
		i = j
	}
	return area / (npos * nneg), true
}

// String formats the report as sklearn.metrics.classification_report does
// with two digits.
func (r *Report) String() string { return r.Format(2) }

// Format formats the report as sklearn.metrics.classification_report does
// with the given number of digits, followed by the AUC when known.
func (r *Report) Format(digits int) string {
	width := len("weighted avg")
	for _, c := range r.Classes {
		width = max(width, len(c.Label))
	}
	width = max(width, digits)
	var b strings.Builder
	fmt.Fprintf(&b, "%*s  %9s %9s %9s %9s\n\n", width, "", "precision", "recall", "f1-score", "support")
	for _, c := range r.Classes {
		fmt.Fprintf(&b, "%*s  %9.*f %9.*f %9.*f %9d\n", width, c.Label, digits, c.Precision, digits, c.Recall, digits, c.F1, c.Support)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "%*s  %9s %9s %9.*f %9d\n", width, "accuracy", "", "", digits, r.Accuracy, r.MacroAvg.Support)
	for _, a := range []struct {
		name string
		avg  Average
	}{{"macro avg", r.MacroAvg}, {"weighted avg", r.WeightedAvg}} {
		fmt.Fprintf(&b, "%*s  %9.*f %9.*f %9.*f %9d\n", width, a.name, digits, a.avg.Precision, digits, a.avg.Recall, digits, a.avg.F1, a.avg.Support)
	}
	if r.AUC != nil {
		kind := "one-vs-rest macro"
		if len(r.Classes) == 2 {
			kind = "binary, positive " + r.Classes[1].Label
		}
		fmt.Fprintf(&b, "\n%*s  %9.*f  (%s)\n", width, "roc auc", digits, *r.AUC, kind)
	}
	return b.String()
}
