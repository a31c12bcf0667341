// Package agreement measures how well two annotation sets agree (two models,
// two prompts, a model and people): coverage of the join, exact agreement,
// Cohen's kappa, quadratic-weighted kappa, mean absolute error, Spearman's
// rank correlation and the confusion matrix.
//
// Labels are strings. When every label of both sets is a number, labels are
// ordered numerically and the numeric statistics (quadratic kappa, MAE,
// Spearman) are computed; otherwise labels are ordered as strings and only the
// categorical ones are. Weighted kappa weighs a disagreement between the i-th
// and j-th label (in that order) by (i-j)², as scikit-learn's
// cohen_kappa_score(weights="quadratic") does: labels that neither set uses
// take no place in the scale.
package agreement

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Item is one annotation: the key it is joined on and its label.
type Item struct {
	Key   string
	Label string
}

// Pair is a key annotated in both sets.
type Pair struct {
	Key  string
	A, B string
}

// Join pairs the items of a and b by key, in a's order, and counts the keys
// found in only one of them. A key twice in one set is an error.
func Join(a, b []Item) (pairs []Pair, onlyA, onlyB int, err error) {
	bl := make(map[string]string, len(b))
	for _, it := range b {
		if _, dup := bl[it.Key]; dup {
			return nil, 0, 0, fmt.Errorf("key %q appears twice in the second set", it.Key)
		}
		bl[it.Key] = it.Label
	}
	seen := make(map[string]bool, len(a))
	for _, it := range a {
		if seen[it.Key] {
			return nil, 0, 0, fmt.Errorf("key %q appears twice in the first set", it.Key)
		}
		seen[it.Key] = true
		if lb, ok := bl[it.Key]; ok {
			pairs = append(pairs, Pair{Key: it.Key, A: it.Label, B: lb})
		} else {
			onlyA++
		}
	}
	onlyB = len(b) - len(pairs)
	return pairs, onlyA, onlyB, nil
}

// Report holds the statistics. Statistics that are undefined for the data
// (kappa when both sets use one label, Spearman for a constant set, numeric
// statistics for non-numeric labels) are nil.
type Report struct {
	// Pairs is the number of keys in both sets; OnlyA and OnlyB count the
	// keys in one set only.
	Pairs int `json:"pairs"`
	OnlyA int `json:"only_a"`
	OnlyB int `json:"only_b"`
	// CoverageA and CoverageB are the shares of each set's keys found in
	// the other.
	CoverageA float64 `json:"coverage_a"`
	CoverageB float64 `json:"coverage_b"`
	// Agreement is the share of pairs with equal labels.
	Agreement float64  `json:"agreement"`
	Kappa     *float64 `json:"cohen_kappa"`
	// Numeric is true when every label is a number.
	Numeric        bool     `json:"numeric"`
	QuadraticKappa *float64 `json:"quadratic_weighted_kappa,omitempty"`
	MAE            *float64 `json:"mae,omitempty"`
	Spearman       *float64 `json:"spearman,omitempty"`
	// Labels orders the confusion matrix; Confusion[i][j] counts pairs
	// labelled Labels[i] in A and Labels[j] in B.
	Labels    []string  `json:"labels"`
	Confusion [][]int64 `json:"confusion"`
}

// Compute computes the statistics of joined pairs; onlyA and onlyB are the
// unmatched counts from Join (for coverage).
func Compute(pairs []Pair, onlyA, onlyB int) Report {
	r := Report{Pairs: len(pairs), OnlyA: onlyA, OnlyB: onlyB}
	if n := len(pairs) + onlyA; n > 0 {
		r.CoverageA = float64(len(pairs)) / float64(n)
	}
	if n := len(pairs) + onlyB; n > 0 {
		r.CoverageB = float64(len(pairs)) / float64(n)
	}
	if len(pairs) == 0 {
		return r
	}
	r.Labels, r.Numeric = orderLabels(pairs)
	index := make(map[string]int, len(r.Labels))
	for i, l := range r.Labels {
		index[l] = i
	}
	k := len(r.Labels)
	r.Confusion = make([][]int64, k)
	for i := range r.Confusion {
		r.Confusion[i] = make([]int64, k)
	}
	same := 0
	for _, p := range pairs {
		r.Confusion[index[p.A]][index[p.B]]++
		if p.A == p.B {
			same++
		}
	}
	r.Agreement = float64(same) / float64(len(pairs))
	r.Kappa = kappa(r.Confusion, func(i, j int) float64 {
		if i == j {
			return 0
		}
		return 1
	})
	if !r.Numeric {
		return r
	}
	r.QuadraticKappa = kappa(r.Confusion, func(i, j int) float64 { return float64((i - j) * (i - j)) })
	a, b := make([]float64, len(pairs)), make([]float64, len(pairs))
	var abs float64
	for i, p := range pairs {
		a[i], _ = strconv.ParseFloat(p.A, 64)
		b[i], _ = strconv.ParseFloat(p.B, 64)
		abs += math.Abs(a[i] - b[i])
	}
	mae := abs / float64(len(pairs))
	r.MAE = &mae
	r.Spearman = Spearman(a, b)
	return r
}

// orderLabels returns the labels used, in numeric order when all are numbers.
func orderLabels(pairs []Pair) ([]string, bool) {
	set := map[string]float64{}
	numeric := true
	for _, p := range pairs {
		for _, l := range []string{p.A, p.B} {
			if _, ok := set[l]; ok {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(l), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				numeric = false
			}
			set[l] = v
		}
	}
	labels := make([]string, 0, len(set))
	for l := range set {
		labels = append(labels, l)
	}
	sort.Slice(labels, func(i, j int) bool {
		if numeric && set[labels[i]] != set[labels[j]] {
			return set[labels[i]] < set[labels[j]]
		}
		return labels[i] < labels[j]
	})
	return labels, numeric
}

// kappa is weighted Cohen's kappa with disagreement weights w:
// 1 - Σ w·observed / Σ w·expected, the expected counts being the product of
// the margins. nil when undefined (no expected disagreement).
func kappa(c [][]int64, w func(i, j int) float64) *float64 {
	k := len(c)
	rows, cols := make([]float64, k), make([]float64, k)
	var n float64
	for i := range k {
		for j := range k {
			v := float64(c[i][j])
			rows[i] += v
			cols[j] += v
			n += v
		}
	}
	var observed, expected float64
	for i := range k {
		for j := range k {
			observed += w(i, j) * float64(c[i][j])
			expected += w(i, j) * rows[i] * cols[j] / n
		}
	}
	if expected == 0 {
		return nil
	}
	v := 1 - observed/expected
	return &v
}

// Spearman returns Spearman's rank correlation of x and y (the Pearson
// correlation of their average ranks, as scipy.stats.spearmanr computes
// it), nil when either is constant.
func Spearman(x, y []float64) *float64 { return pearson(ranks(x), ranks(y)) }

// ranks returns the 1-based ranks of xs, ties sharing their average rank.
func ranks(xs []float64) []float64 {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return xs[idx[i]] < xs[idx[j]] })
	r := make([]float64, len(xs))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && xs[idx[j+1]] == xs[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}

// pearson is the correlation of x and y; nil when either is constant.
func pearson(x, y []float64) *float64 {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return nil
	}
	v := sxy / math.Sqrt(sxx*syy)
	return &v
}

// String formats the report for a terminal.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pairs %d (only in A %d, only in B %d; coverage A %.1f%%, B %.1f%%)\n",
		r.Pairs, r.OnlyA, r.OnlyB, 100*r.CoverageA, 100*r.CoverageB)
	if r.Pairs == 0 {
		return b.String()
	}
	fmt.Fprintf(&b, "agreement %.4f\n", r.Agreement)
	fmt.Fprintf(&b, "cohen kappa %s\n", fmtStat(r.Kappa))
	if r.Numeric {
		fmt.Fprintf(&b, "quadratic weighted kappa %s\n", fmtStat(r.QuadraticKappa))
		fmt.Fprintf(&b, "mae %s\n", fmtStat(r.MAE))
		fmt.Fprintf(&b, "spearman %s\n", fmtStat(r.Spearman))
	}
	b.WriteString("confusion (rows A, columns B)\n")
	width := 5
	for _, l := range r.Labels {
		width = max(width, len(l)+1)
	}
	fmt.Fprintf(&b, "%*s", width, "")
	for _, l := range r.Labels {
		fmt.Fprintf(&b, "%*s", width, l)
	}
	b.WriteByte('\n')
	for i, l := range r.Labels {
		fmt.Fprintf(&b, "%*s", width, l)
		for _, v := range r.Confusion[i] {
			fmt.Fprintf(&b, "%*d", width, v)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func fmtStat(v *float64) string {
	if v == nil {
		return "undefined"
	}
	return strconv.FormatFloat(*v, 'f', 4, 64)
}
