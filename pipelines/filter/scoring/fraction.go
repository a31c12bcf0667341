package scoring

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"

	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/sampling"
)

// SketchAccuracy is the relative accuracy of score sketches: a bucket
// spans 0.2% of its scores' magnitude (about 0.002 at a score of 1).
const SketchAccuracy = 0.001

var sketchMapping = func() mapping.IndexMapping {
	m, err := mapping.NewLogarithmicMapping(SketchAccuracy)
	if err != nil {
		panic(err)
	}
	return m
}()

// Sketch is a mergeable quantile sketch of scores: a DDSketch
// (github.com/DataDog/sketches-go) whose buckets the fraction selection
// reuses, so that rows are compared with the cut exactly as they were
// counted.
type Sketch struct{ s *ddsketch.DDSketch }

// NewSketch returns an empty sketch.
func NewSketch() *Sketch {
	return &Sketch{ddsketch.NewDDSketch(sketchMapping, store.NewDenseStore(), store.NewDenseStore())}
}

// Add counts one score.
func (k *Sketch) Add(score float64) error {
	if math.IsNaN(score) || math.IsInf(score, 0) {
		return fmt.Errorf("score %v cannot be sketched", score)
	}
	return k.s.Add(score)
}

// Merge adds other's counts to k.
func (k *Sketch) Merge(other *Sketch) error { return k.s.MergeWith(other.s) }

// Count returns the number of scores counted.
func (k *Sketch) Count() int64 { return int64(k.s.GetCount()) }

// Encode serialises the sketch (DDSketch's compact binary form).
func (k *Sketch) Encode() []byte {
	var b []byte
	k.s.Encode(&b, true)
	return b
}

// DecodeSketch parses an encoded sketch.
func DecodeSketch(b []byte) (*Sketch, error) {
	k := NewSketch()
	if err := k.s.DecodeAndMergeWith(b); err != nil {
		return nil, fmt.Errorf("decode score sketch: %w", err)
	}
	return k, nil
}

// Bucket is a score's place in the sketch, in an order that follows the
// scores': negative values (by decreasing index), zero, positive values.
type Bucket struct {
	Sign  int `json:"sign"` // -1, 0 or 1
	Index int `json:"index"`
}

func bucketOf(score float64) Bucket {
	switch {
	case score >= sketchMapping.MinIndexableValue():
		return Bucket{1, sketchMapping.Index(score)}
	case score <= -sketchMapping.MinIndexableValue():
		return Bucket{-1, sketchMapping.Index(-score)}
	}
	return Bucket{}
}

func (b Bucket) compare(o Bucket) int {
	if b.Sign != o.Sign {
		return b.Sign - o.Sign
	}
	d := b.Index - o.Index
	if b.Sign < 0 {
		d = -d
	}
	return d
}

// bounds returns the scores a bucket spans.
func (b Bucket) bounds() (lo, hi float64) {
	switch b.Sign {
	case 1:
		return sketchMapping.LowerBound(b.Index), sketchMapping.LowerBound(b.Index + 1)
	case -1:
		return -sketchMapping.LowerBound(b.Index + 1), -sketchMapping.LowerBound(b.Index)
	}
	return 0, 0
}

// Cut is where a global top fraction is cut: every row in a bucket above
// Bucket is kept, none below, and a row in Bucket with probability
// KeepInBucket (seeded by its content), so that Target rows are kept in
// expectation however many scores tie.
type Cut struct {
	Fraction float64 `json:"fraction"`
	Total    int64   `json:"total"`
	Target   int64   `json:"target"`
	Bucket   Bucket  `json:"bucket"`
	// Low and High are the boundary bucket's score range: the effective
	// threshold lies between them.
	Low          float64 `json:"low"`
	High         float64 `json:"high"`
	Above        int64   `json:"above"`
	InBucket     int64   `json:"in_bucket"`
	KeepInBucket float64 `json:"keep_in_bucket"`
	// KeepNone is set when the target is zero rows.
	KeepNone bool `json:"keep_none,omitempty"`
}

// Tied reports whether the cut falls among many rows whose scores its
// sketch cannot tell apart (its bucket: scores within SketchAccuracy of
// each other), so that seeded coin flips rather than scores choose a
// notable share of the kept rows: at least 10 rows, and more than a tenth
// of the target, of which some but not all are kept.
func (c Cut) Tied() bool {
	return !c.KeepNone && c.KeepInBucket < 1 && c.InBucket >= 10 && 10*c.InBucket > c.Target
}

// Cut returns where to cut k's scores to keep fraction (in [0, 1]) of
// them, the top-scoring ones.
func (k *Sketch) Cut(fraction float64) Cut {
	c := Cut{Fraction: fraction, Total: k.Count()}
	c.Target = int64(math.Round(fraction * float64(c.Total)))
	if c.Target <= 0 {
		c.KeepNone = true
		return c
	}
	// Buckets from the highest score down.
	var order []struct {
		b Bucket
		n int64
	}
	add := func(b Bucket, n float64) {
		order = append(order, struct {
			b Bucket
			n int64
		}{b, int64(math.Round(n))})
	}
	pos, neg := k.s.GetPositiveValueStore(), k.s.GetNegativeValueStore()
	if !pos.IsEmpty() {
		lo, _ := pos.MinIndex()
		hi, _ := pos.MaxIndex()
		counts := indexCounts(pos)
		for i := hi; i >= lo; i-- {
			if n := counts[i]; n > 0 {
				add(Bucket{1, i}, n)
			}
		}
	}
	if z := k.s.GetZeroCount(); z > 0 {
		add(Bucket{}, z)
	}
	if !neg.IsEmpty() {
		lo, _ := neg.MinIndex()
		hi, _ := neg.MaxIndex()
		counts := indexCounts(neg)
		for i := lo; i <= hi; i++ {
			if n := counts[i]; n > 0 {
				add(Bucket{-1, i}, n)
			}
		}
	}
	for _, o := range order {
		if c.Above+o.n >= c.Target {
			c.Bucket, c.InBucket = o.b, o.n
			c.KeepInBucket = float64(c.Target-c.Above) / float64(o.n)
			c.Low, c.High = o.b.bounds()
			return c
		}
		c.Above += o.n
	}
	return c // unreachable: the buckets add up to Total
}

func indexCounts(s store.Store) map[int]float64 {
	m := map[int]float64{}
	s.ForEach(func(i int, n float64) bool {
		m[i] += n
		return false
	})
	return m
}

// Keep decides on a row with the given score and JSON text.
func (c *Cut) Keep(score float64, raw []byte, stream uint64) bool {
	if c.KeepNone {
		return false
	}
	switch d := bucketOf(score).compare(c.Bucket); {
	case d > 0:
		return true
	case d < 0:
		return false
	}
	return uniform(stream, raw) < c.KeepInBucket
}

// FractionArgs configure the "select-fraction" op, whose global input is
// the Cut (JSON) of the merged sketch of every shard's scores.
type FractionArgs struct {
	// Field holds the scores (the score op's Field); the op reads
	// Field.score.
	Field string `json:"field"`
	Seed  int64  `json:"seed"`
	// Scoring is the fingerprint of the scoring that wrote the rows read:
	// the cut alone does not tell two scorings apart, and a selection must
	// be redone when its input rows changed.
	Scoring string `json:"scoring"`
}

type fractionOp struct {
	path   ScorePath
	cut    Cut
	stream uint64
}

// ScorePath locates the score that the score op wrote under a field.
type ScorePath []any

// NewScorePath returns the path of field's score (field.score).
func NewScorePath(field string) ScorePath { return append(splitPath(field), "score") }

// Read returns the score in a scored row's JSON text.
func (p ScorePath) Read(raw []byte) (float64, error) {
	v, err := lookup(raw, p)
	if err != nil {
		return 0, err
	}
	if kind(v) != "number" {
		return 0, rows.BadRowf("no numeric %s in the row (was it scored into this field?)", joinPath(p))
	}
	score, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, rows.BadRowf("%s: %v", joinPath(p), err)
	}
	return score, nil
}

func (o *fractionOp) Apply(r *rows.Row) (bool, error) {
	if err := r.Validate(); err != nil {
		return false, err
	}
	score, err := o.path.Read(r.Raw())
	if err != nil {
		return false, err
	}
	return o.cut.Keep(score, r.Raw(), o.stream), nil
}

func init() {
	rows.Register(SelectFractionKind, func(args, global json.RawMessage) (rows.Op, error) {
		var a FractionArgs
		if err := json.Unmarshal(args, &a); err != nil {
			return nil, fmt.Errorf("decode arguments: %w", err)
		}
		if err := CheckField(a.Field); err != nil {
			return nil, err
		}
		var c Cut
		if err := json.Unmarshal(global, &c); err != nil || c.Total == 0 && !c.KeepNone {
			return nil, fmt.Errorf("select-fraction needs the cut of the merged score sketch as its global input (got %.80q)", global)
		}
		return &fractionOp{path: NewScorePath(a.Field), cut: c, stream: sampling.Seed(a.Seed, "keep-fraction")}, nil
	})
}
