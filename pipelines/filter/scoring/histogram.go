package scoring

import (
	"fmt"
	"math"
	"slices"

	"github.com/winnowlabs/winnow/models"
)

// HistogramBins is the number of bins of a score histogram.
const HistogramBins = 50

// Histogram counts scores in equal-width bins over a fixed range, the
// model's score range, so that the histograms of shards (and of runs)
// merge by adding their counts. Scores outside the range (a regressor's
// raw output may leave it) are counted in Below and Above.
type Histogram struct {
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Counts []int64 `json:"counts"`
	Below  int64   `json:"below,omitempty"`
	Above  int64   `json:"above,omitempty"`
}

// NewHistogram returns an empty histogram of bins bins over [lo, hi] (a
// range of width 1 from lo when hi is not above lo).
func NewHistogram(lo, hi float64, bins int) *Histogram {
	if !(hi > lo) {
		hi = lo + 1
	}
	return &Histogram{Min: lo, Max: hi, Counts: make([]int64, max(bins, 1))}
}

// NewScoreHistogram returns an empty histogram over the score range of a
// model's scoring rule.
func NewScoreHistogram(s models.Scoring) *Histogram {
	return NewHistogram(s.Min, s.Max, HistogramBins)
}

// Add counts one score; Max counts in the last bin.
func (h *Histogram) Add(v float64) {
	switch {
	case v < h.Min:
		h.Below++
	case v > h.Max:
		h.Above++
	case math.IsNaN(v):
		h.Above++ // no bin holds it; counted, so that every row is
	default:
		i := int(float64(len(h.Counts)) * (v - h.Min) / (h.Max - h.Min))
		h.Counts[min(i, len(h.Counts)-1)]++
	}
}

// Merge adds other's counts to h; both must have the same range and bins.
func (h *Histogram) Merge(other *Histogram) error {
	if other.Min != h.Min || other.Max != h.Max || len(other.Counts) != len(h.Counts) {
		return fmt.Errorf("score histograms over [%v, %v] in %d bins and [%v, %v] in %d bins do not merge",
			h.Min, h.Max, len(h.Counts), other.Min, other.Max, len(other.Counts))
	}
	for i, c := range other.Counts {
		h.Counts[i] += c
	}
	h.Below += other.Below
	h.Above += other.Above
	return nil
}

// Clone returns a copy of h.
func (h *Histogram) Clone() *Histogram {
	c := *h
	c.Counts = slices.Clone(h.Counts)
	return &c
}

// Total is the number of scores counted, in the range or out of it.
func (h *Histogram) Total() int64 {
	n := h.Below + h.Above
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// ShardFacts are what the score op reports about one shard: a task's
// Result.Extra, which its completion marker keeps.
type ShardFacts struct {
	// Scores counts the scores of the shard's rows that were scored (bad
	// rows are not).
	Scores *Histogram `json:"scores"`
}
