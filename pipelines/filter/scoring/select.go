package scoring

import (
	"fmt"
	"math"

	"github.com/cespare/xxhash/v2"

	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/sampling"
)

// Selection keeps scored rows by exactly one rule.
type Selection struct {
	// Threshold keeps rows whose score is at least this.
	Threshold *float64 `json:"threshold,omitempty"`
	// IntThreshold keeps rows whose int_score is at least this.
	IntThreshold *int `json:"int_threshold,omitempty"`
	// Expression is jq evaluated on the scored row: it keeps the row when
	// its first output is neither false nor null.
	Expression string `json:"expression,omitempty"`
	// Pareto, when positive, keeps a row when a draw from a Pareto (Lomax)
	// distribution with this shape exceeds 1 - score, as GPT-3 and NeMo
	// Curator do (numpy.random.pareto(alpha) > 1 - score); the score is
	// first scaled to [0, 1] by the scoring's range. Each row's draw is
	// seeded by Seed and the row's content, so it does not depend on
	// parallelism, shard order or where the data lives.
	Pareto float64 `json:"pareto,omitempty"`
	Seed   int64   `json:"seed,omitempty"`
}

// Validate checks that exactly one rule is set and compiles the expression.
func (s Selection) Validate() error {
	n := 0
	for _, set := range []bool{s.Threshold != nil, s.IntThreshold != nil, s.Expression != "", s.Pareto != 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("give exactly one selection rule (threshold, int threshold, expression, Pareto or keep fraction)")
	}
	if s.Threshold != nil && (math.IsNaN(*s.Threshold) || math.IsInf(*s.Threshold, 0)) {
		return fmt.Errorf("threshold %v is not a finite number", *s.Threshold)
	}
	if s.Pareto < 0 || math.IsNaN(s.Pareto) || math.IsInf(s.Pareto, 0) {
		return fmt.Errorf("Pareto shape %v: it must be positive", s.Pareto)
	}
	if s.Expression != "" {
		if _, err := rows.Compile(s.Expression); err != nil {
			return err
		}
	}
	return nil
}

type selector struct {
	s       Selection
	scoring models.Scoring
	expr    *rows.Expr
	stream  uint64
}

func newSelector(s Selection, scoring models.Scoring) (*selector, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	sel := &selector{s: s, scoring: scoring, stream: sampling.Seed(s.Seed, "pareto")}
	if s.Expression != "" {
		sel.expr = rows.MustCompile(s.Expression)
	}
	return sel, nil
}

// keep decides on row r (as read) whose scored JSON text is scored.
func (s *selector) keep(r *rows.Row, scored []byte, score float64, intScore int) (bool, error) {
	switch {
	case s.s.Threshold != nil:
		return score >= *s.s.Threshold, nil
	case s.s.IntThreshold != nil:
		return intScore >= *s.s.IntThreshold, nil
	case s.expr != nil:
		obj, err := rows.New(scored, r.Source, r.Line).Object()
		if err != nil {
			return false, err
		}
		v, ok, err := s.expr.One(obj)
		if err != nil {
			return false, err
		}
		return ok && v != nil && v != false, nil
	}
	return ParetoKeep(s.s.Pareto, s.unit(score), s.stream, r.Raw()), nil
}

// unit scales a score to [0, 1] by the scoring's range.
func (s *selector) unit(score float64) float64 {
	lo, hi := s.scoring.Min, s.scoring.Max
	if hi <= lo {
		return min(max(score, 0), 1)
	}
	return min(max((score-lo)/(hi-lo), 0), 1)
}

// ParetoKeep draws x from a Lomax (Pareto II) distribution with shape
// alpha, seeded by stream and the row's text, and keeps the row when
// x > 1 - score; so a row is kept with probability (2 - score)^-alpha.
func ParetoKeep(alpha, score float64, stream uint64, raw []byte) bool {
	u := uniform(stream, raw)
	x := math.Pow(1-u, -1/alpha) - 1 // inverse CDF; 1-u is in (0, 1]
	return x > 1-score
}

// uniform returns a number in [0, 1) determined by stream and data.
func uniform(stream uint64, data []byte) float64 {
	return float64(sampling.Hash(stream, xxhash.Sum64(data))>>11) / (1 << 53)
}
