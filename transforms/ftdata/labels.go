package ftdata

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/winnowlabs/winnow/transforms/normalize"
)

// Bins are the edges of the equal-count bins that `--auto N` makes from the
// training labels: Bins[0] is the smallest training value, Bins[len-1] the
// largest, and bin i holds the values v with Bins[i] <= v < Bins[i+1]. The
// last bin also holds its upper edge; values outside the training range fall
// into the first or last bin. A bin's label is its index ("0", "1", ...), so
// higher labels mean higher values.
type Bins []float64

// AutoBins computes up to n equal-count bins over values.
//
// Equal values always share a bin. Each inner edge is the distinct value v
// (all values >= v go above it) whose count of smaller values is closest to
// k/n of all values (k = 1..n-1; on a tie, the lower such v). With many
// ties — integer scores, say — two targets can pick the same edge; the
// duplicate is dropped, so fewer than n bins may result. Every bin holds at
// least one training value.
func AutoBins(values []float64, n int) (Bins, error) {
	if n < 1 {
		return nil, fmt.Errorf("auto bins: need at least 1 bin, got %d", n)
	}
	if len(values) == 0 {
		return nil, errors.New("auto bins: no training labels")
	}
	sorted := slices.Clone(values)
	for _, v := range sorted {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("auto bins: label %v is not a finite number", v)
		}
	}
	slices.Sort(sorted)
	// distinct values and the count of values below each
	var distinct []float64
	var below []int
	for i, v := range sorted {
		if i == 0 || v != sorted[i-1] {
			distinct = append(distinct, v)
			below = append(below, i)
		}
	}
	edges := Bins{distinct[0]}
	total := float64(len(sorted))
	for k := 1; k < n && len(distinct) > 1; k++ {
		target := float64(k) * total / float64(n)
		best := 1
		for j := 2; j < len(distinct); j++ {
			if math.Abs(float64(below[j])-target) < math.Abs(float64(below[best])-target) {
				best = j
			}
		}
		if e := distinct[best]; e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	return append(edges, distinct[len(distinct)-1]), nil
}

// Count returns the number of bins.
func (b Bins) Count() int { return max(len(b)-1, 0) }

// Index returns the bin of v.
func (b Bins) Index(v float64) int {
	if len(b) < 3 {
		return 0
	}
	inner := b[1 : len(b)-1]
	return sort.Search(len(inner), func(i int) bool { return inner[i] > v })
}

// Label returns the label of v's bin.
func (b Bins) Label(v float64) string { return strconv.Itoa(b.Index(v)) }

// NumericLabel reads a label value as a number: a JSON number (float64,
// json.Number or any Go integer or float) or a string holding one.
func NumericLabel(v any) (float64, error) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, fmt.Errorf("label %q is not a number: %w", x, err)
		}
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			return 0, fmt.Errorf("label %q is not a number: %w", x, err)
		}
	default:
		return 0, fmt.Errorf("label %v (%T) is not a number", v, v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("label %v is not a finite number", v)
	}
	return f, nil
}

// NoLabel is the label of a multi-label row whose criteria are all false:
// fastText skips lines without labels, so such rows get this one.
const NoLabel = "none"

// MultiLabels reads a `--multi-label` value, a JSON object {criterion: bool},
// and returns the criteria that are true, normalized with normalize.Label and
// sorted, or [NoLabel] when none is. Non-boolean values, criteria that
// normalize to "", to NoLabel or to the same label are errors.
func MultiLabels(v any) ([]string, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("multi-label value %v (%T) is not a JSON object", v, v)
	}
	seen := make(map[string]string, len(obj))
	var labels []string
	for crit, val := range obj {
		b, ok := val.(bool)
		if !ok {
			return nil, fmt.Errorf("multi-label criterion %q is %v (%T), not a boolean", crit, val, val)
		}
		l := normalize.Label(crit)
		switch {
		case l == "":
			return nil, fmt.Errorf("multi-label criterion %q is empty as a label", crit)
		case l == NoLabel:
			return nil, fmt.Errorf("multi-label criterion %q collides with the label %q for rows with no true criterion", crit, NoLabel)
		case seen[l] != "":
			return nil, fmt.Errorf("multi-label criteria %q and %q are both the label %q", seen[l], crit, l)
		}
		seen[l] = crit
		if b {
			labels = append(labels, l)
		}
	}
	if len(labels) == 0 {
		return []string{NoLabel}, nil
	}
	slices.Sort(labels)
	return labels, nil
}
