package evaluate

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// RegressionReport holds the metrics of scalar predictions against numeric
// labels: scikit-learn's mean_squared_error, mean_absolute_error and
// r2_score, and, as the FineWeb-Edu classifier recipe reports them, the
// classification report of the predictions rounded and clipped to the
// score range against the rounded labels.
type RegressionReport struct {
	MSE float64 `json:"mse"`
	MAE float64 `json:"mae"`
	// R2 is the coefficient of determination 1 − SSres/SStot; for
	// constant labels it is 1 when the predictions are exact and 0
	// otherwise (scikit-learn's force_finite).
	R2      float64 `json:"r2"`
	Samples int     `json:"samples"`
	// Range is the score range the rounded predictions are clipped to.
	Range [2]float64 `json:"range"`
	// Rounded compares round(clip(prediction, Range)) with round(label),
	// both rounded half to even as numpy does; its classes are the
	// integers present in either, in numeric order.
	Rounded *Report `json:"rounded"`
}

// MacroF1 returns the macro-averaged F1 of the rounded predictions.
func (r *RegressionReport) MacroF1() float64 { return r.Rounded.MacroAvg.F1 }

// Regress computes a regression report of yPred against yTrue; lo and hi
// bound the score range (e.g. 0 and 5 for FineWeb-Edu's scores).
func Regress(yTrue, yPred []float64, lo, hi float64) (*RegressionReport, error) {
	if len(yTrue) != len(yPred) {
		return nil, fmt.Errorf("evaluate: %d labels but %d predictions", len(yTrue), len(yPred))
	}
	if len(yTrue) == 0 {
		return nil, fmt.Errorf("evaluate: no samples")
	}
	if !(lo <= hi) {
		return nil, fmt.Errorf("evaluate: score range [%v, %v] is empty", lo, hi)
	}
	if err := finite("label", yTrue); err != nil {
		return nil, err
	}
	if err := finite("prediction", yPred); err != nil {
		return nil, err
	}
	n := float64(len(yTrue))
	var mean float64
	for _, y := range yTrue {
		mean += y
	}
	mean /= n
	var sse, sae, sst float64
	for i, y := range yTrue {
		d := y - yPred[i]
		sse += d * d
		sae += math.Abs(d)
		sst += (y - mean) * (y - mean)
	}
	r := &RegressionReport{MSE: sse / n, MAE: sae / n, Samples: len(yTrue), Range: [2]float64{lo, hi}}
	switch {
	case sst != 0:
		r.R2 = 1 - sse/sst
	case sse == 0:
		r.R2 = 1
	}
	trueInt := make([]int64, len(yTrue))
	predInt := make([]int64, len(yPred))
	for i := range yTrue {
		trueInt[i] = int64(math.RoundToEven(yTrue[i]))
		predInt[i] = int64(math.RoundToEven(math.Min(math.Max(yPred[i], lo), hi)))
	}
	classes := slices.Concat(trueInt, predInt)
	slices.Sort(classes)
	classes = slices.Compact(classes)
	labels := make([]string, len(classes))
	for i, c := range classes {
		labels[i] = strconv.FormatInt(c, 10)
	}
	ts, ps := make([]string, len(yTrue)), make([]string, len(yTrue))
	for i := range yTrue {
		ts[i] = strconv.FormatInt(trueInt[i], 10)
		ps[i] = strconv.FormatInt(predInt[i], 10)
	}
	rep, err := Classify(ts, ps, labels)
	if err != nil {
		return nil, err
	}
	r.Rounded = rep
	return r, nil
}

func finite(what string, v []float64) error {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("evaluate: %s %d is %v", what, i, x)
		}
	}
	return nil
}

// String formats the report: the regression metrics, then the
// classification report of the rounded predictions.
func (r *RegressionReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mse %.4f  mae %.4f  r2 %.4f  (%d samples)\n\n", r.MSE, r.MAE, r.R2, r.Samples)
	fmt.Fprintf(&b, "rounded to integers, predictions clipped to [%g, %g]:\n", r.Range[0], r.Range[1])
	b.WriteString(r.Rounded.String())
	return b.String()
}
