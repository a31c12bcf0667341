package evaluate

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/winnowlabs/winnow/transforms/agreement"
)

// RankingReport measures how well scores order samples by their labels:
// scipy's Spearman ρ and Kendall τ-b against the labels and, when the
// labels are binary (or binarized), the ROC AUC and the best F1 of the
// positive class over thresholds on the score. Undefined values (constant
// scores or labels, a missing class) are nil.
type RankingReport struct {
	Samples  int      `json:"samples"`
	Spearman *float64 `json:"spearman,omitempty"`
	KendallB *float64 `json:"kendall_tau_b,omitempty"`
	// Positives counts the positive samples when the labels are binary.
	Positives int      `json:"positives,omitempty"`
	AUC       *float64 `json:"auc,omitempty"`
	// BestF1 is the highest F1 of the positive class when samples scoring
	// at least a threshold are predicted positive, over every distinct
	// score as the threshold; BestThreshold is the greatest threshold that
	// reaches it.
	BestF1        *float64 `json:"best_f1,omitempty"`
	BestThreshold *float64 `json:"best_threshold,omitempty"`
}

// RankOptions tune Rank.
type RankOptions struct {
	// PositiveFrom, when set, makes the labels binary: a sample is positive
	// when its label is at least this value (e.g. 3 for FineWeb-Edu's
	// scores). When nil, labels with exactly two distinct values are
	// binary with the greater one positive; other labels get no binary
	// metrics.
	PositiveFrom *float64
}

// Rank computes a ranking report of scores against labels.
func Rank(scores, labels []float64, opts RankOptions) (*RankingReport, error) {
	if len(scores) != len(labels) {
		return nil, fmt.Errorf("evaluate: %d scores but %d labels", len(scores), len(labels))
	}
	if len(scores) == 0 {
		return nil, fmt.Errorf("evaluate: no samples")
	}
	if err := finite("score", scores); err != nil {
		return nil, err
	}
	if err := finite("label", labels); err != nil {
		return nil, err
	}
	r := &RankingReport{Samples: len(scores)}
	r.Spearman = defined(Spearman(scores, labels))
	r.KendallB = defined(KendallTauB(scores, labels))

	var positive []bool
	switch {
	case opts.PositiveFrom != nil:
		positive = make([]bool, len(labels))
		for i, l := range labels {
			positive[i] = l >= *opts.PositiveFrom
		}
	default:
		distinct := slices.Clone(labels)
		slices.Sort(distinct)
		if distinct = slices.Compact(distinct); len(distinct) == 2 {
			positive = make([]bool, len(labels))
			for i, l := range labels {
				positive[i] = l == distinct[1]
			}
		}
	}
	if positive == nil {
		return r, nil
	}
	for _, p := range positive {
		if p {
			r.Positives++
		}
	}
	if auc, ok := ROCAUC(positive, scores); ok {
		r.AUC = &auc
	}
	if f1, t, ok := BestF1(positive, scores); ok {
		r.BestF1, r.BestThreshold = &f1, &t
	}
	return r, nil
}

func defined(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}

// BestF1 returns the highest F1 of the positive class when the samples
// scoring at least t are predicted positive, over every distinct score t,
// and the greatest t that reaches it. ok is false without positives.
func BestF1(positive []bool, scores []float64) (f1, threshold float64, ok bool) {
	idx := byScoreDesc(scores)
	var npos int
	for _, p := range positive {
		if p {
			npos++
		}
	}
	if npos == 0 {
		return 0, 0, false
	}
	var tp, predicted int
	best := -1.0
	for i := 0; i < len(idx); {
		t := scores[idx[i]]
		for ; i < len(idx) && scores[idx[i]] == t; i++ {
			predicted++
			if positive[idx[i]] {
				tp++
			}
		}
		// F1 = 2TP / (predicted + actual positives).
		f := 2 * float64(tp) / float64(predicted+npos)
		if f > best {
			best, threshold = f, t
		}
	}
	return best, threshold, true
}

func byScoreDesc(scores []float64) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	return idx
}

// Spearman returns Spearman's rank correlation of x and y (the Pearson
// correlation of their average ranks, as scipy.stats.spearmanr), NaN when
// either is constant.
func Spearman(x, y []float64) float64 {
	if r := agreement.Spearman(x, y); r != nil {
		return *r
	}
	return math.NaN()
}

// KendallTauB returns Kendall's τ-b of x and y (the variant scipy's
// kendalltau computes, which accounts for ties), NaN when either is
// constant. It runs in O(n log n) (Knight's algorithm).
func KendallTauB(x, y []float64) float64 {
	n := len(x)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	// Sort by x, then y.
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmp.Compare(x[a], x[b]); c != 0 {
			return c
		}
		return cmp.Compare(y[a], y[b])
	})
	total := int64(n) * int64(n-1) / 2
	// Pairs tied in x, and tied in both.
	var tiedX, tiedXY int64
	for i := 0; i < n; {
		j := i
		for j < n && x[idx[j]] == x[idx[i]] {
			j++
		}
		tiedX += pairs(j - i)
		for k := i; k < j; {
			l := k
			for l < j && y[idx[l]] == y[idx[k]] {
				l++
			}
			tiedXY += pairs(l - k)
			k = l
		}
		i = j
	}
	// Count the discordant pairs as the swaps a merge sort by y makes.
	ys := make([]float64, n)
	for i, k := range idx {
		ys[i] = y[k]
	}
	swaps := mergeCount(ys, make([]float64, n))
	// Pairs tied in y (ys is now sorted).
	var tiedY int64
	for i := 0; i < n; {
		j := i
		for j < n && ys[j] == ys[i] {
			j++
		}
		tiedY += pairs(j - i)
		i = j
	}
	// concordant − discordant = total − tiedX − tiedY + tiedXY − 2·discordant
	num := float64(total-tiedX-tiedY+tiedXY) - 2*float64(swaps)
	den := math.Sqrt(float64(total-tiedX) * float64(total-tiedY))
	if den == 0 {
		return math.NaN()
	}
	return num / den
}

func pairs(k int) int64 { return int64(k) * int64(k-1) / 2 }

// mergeCount sorts v (using tmp) and returns the number of inversions,
// pairs i < j with v[i] > v[j].
func mergeCount(v, tmp []float64) int64 {
	n := len(v)
	if n < 2 {
		return 0
	}
	m := n / 2
	c := mergeCount(v[:m], tmp[:m]) + mergeCount(v[m:], tmp[m:])
	i, j, k := 0, m, 0
	for i < m && j < n {
		if v[j] < v[i] {
			tmp[k] = v[j]
			c += int64(m - i)
			j++
		} else {
			tmp[k] = v[i]
			i++
		}
		k++
	}
	k += copy(tmp[k:], v[i:m])
	copy(tmp[k:], v[j:n])
	copy(v, tmp[:n])
	return c
}

// String formats the report.
func (r *RankingReport) String() string {
	var b strings.Builder
	f := func(p *float64) string {
		if p == nil {
			return "undefined"
		}
		return fmt.Sprintf("%.4f", *p)
	}
	fmt.Fprintf(&b, "spearman %s  kendall tau-b %s  (%d samples)\n", f(r.Spearman), f(r.KendallB), r.Samples)
	if r.AUC != nil || r.BestF1 != nil {
		fmt.Fprintf(&b, "roc auc %s  best f1 %s at threshold %s  (%d positives)\n", f(r.AUC), f(r.BestF1), f(r.BestThreshold), r.Positives)
	}
	return b.String()
}
