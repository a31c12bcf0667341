package sampling

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/summary"
)

// SampleArgs configures the "sample" selector: keep a random subset of each
// shard whose size is Rate of the shard's bytes, or, with TargetBytes, the
// share of TargetBytes proportional to the shard's bytes (the run's total
// comes from the measured summary). Sizes are uncompressed row bytes,
// newline included.
type SampleArgs struct {
	Seed        int64   `json:"seed"`
	Rate        float64 `json:"rate,omitempty"`
	TargetBytes int64   `json:"target_bytes,omitempty"`
}

type sizeSelector struct {
	stream uint64
	rate   float64
	sizes  []int64
	total  int64
}

func (s *sizeSelector) Key(r *rows.Row) (shardmap.Key, error) {
	return shardmap.Key{Size: len(r.Raw()) + 1}, r.Validate()
}

func (s *sizeSelector) Observe(i int64, k shardmap.Key) {
	for int64(len(s.sizes)) < i {
		s.sizes = append(s.sizes, 0) // a bad row skipped in this pass
	}
	s.sizes = append(s.sizes, int64(k.Size))
	s.total += int64(k.Size)
}

func (s *sizeSelector) Finish() (func(int64) bool, error) {
	keep := SelectBySize(s.stream, s.sizes, s.rate*float64(s.total))
	return func(i int64) bool { return i < int64(len(keep)) && keep[i] }, nil
}

func newSampleSelector(args, global json.RawMessage) (func(shardmap.Task) (shardmap.Selector, error), error) {
	var a SampleArgs
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, fmt.Errorf("decode arguments: %w", err)
	}
	rate := a.Rate
	if a.TargetBytes > 0 {
		sum, err := decodeSummary(global)
		if err != nil {
			return nil, err
		}
		_, total := sum.Total()
		if total == 0 {
			return nil, fmt.Errorf("the inputs hold no rows")
		}
		rate = float64(a.TargetBytes) / float64(total)
		if rate > 1 {
			rate = 1
		}
	}
	if rate <= 0 || rate > 1 {
		return nil, fmt.Errorf("sampling rate %v is not in (0, 1]", rate)
	}
	return func(t shardmap.Task) (shardmap.Selector, error) {
		return &sizeSelector{stream: Seed(a.Seed, "sample", t.Rel), rate: rate}, nil
	}, nil
}

// BalanceArgs configures the "balance" selector: within each split, every
// label keeps exactly as many rows as the split's rarest label has. The
// label counts of every shard come from the measured summary; each label's
// quota is allocated across shards proportionally (stratified by shard,
// seeded), and each shard keeps a uniformly random subset of its rows of
// that label.
type BalanceArgs struct {
	Seed            int64  `json:"seed"`
	LabelExpression string `json:"label_expression"`
}

// BalancePlan holds, per split and label, how many rows each shard keeps.
type BalancePlan struct {
	// Target is the per-label count of each split.
	Target map[string]int64
	quota  map[string]map[string]int64 // input → label → rows to keep
}

// NewBalancePlan computes the quotas from a summary with per-shard labels.
func NewBalancePlan(seed int64, sum *summary.Summary) (*BalancePlan, error) {
	p := &BalancePlan{Target: map[string]int64{}, quota: map[string]map[string]int64{}}
	for split, sp := range sum.Splits {
		if len(sp.Labels) == 0 {
			continue
		}
		target := int64(-1)
		for _, n := range sp.Labels {
			if target < 0 || n < target {
				target = n
			}
		}
		p.Target[split] = target
		labels := make([]string, 0, len(sp.Labels))
		for l := range sp.Labels {
			labels = append(labels, l)
		}
		sort.Strings(labels)
		for _, label := range labels {
			var inputs []string
			var counts []int64
			for _, t := range sum.Tasks { // sorted by input
				if t.Split == split && t.Labels[label] > 0 {
					inputs = append(inputs, t.Input)
					counts = append(counts, t.Labels[label])
				}
			}
			q, err := Allocate(Seed(seed, "balance", split, label), counts, target)
			if err != nil {
				return nil, fmt.Errorf("split %q label %q: %w", split, label, err)
			}
			for i, in := range inputs {
				if p.quota[in] == nil {
					p.quota[in] = map[string]int64{}
				}
				p.quota[in][label] = q[i]
			}
		}
	}
	return p, nil
}

// Quota returns how many rows of label input keeps.
func (p *BalancePlan) Quota(input, label string) int64 { return p.quota[input][label] }

type labelSelector struct {
	stream uint64
	expr   *rows.Expr
	quota  map[string]int64
	byLbl  map[string][]int64 // label → row indices, in order
}

func (s *labelSelector) Key(r *rows.Row) (shardmap.Key, error) {
	obj, err := r.Object()
	if err != nil {
		return shardmap.Key{}, err
	}
	l, err := rows.LabelOf(s.expr, obj)
	return shardmap.Key{Label: l}, err
}

func (s *labelSelector) Observe(i int64, k shardmap.Key) {
	s.byLbl[k.Label] = append(s.byLbl[k.Label], i)
}

func (s *labelSelector) Finish() (func(int64) bool, error) {
	kept := map[int64]bool{}
	for label, idx := range s.byLbl {
		q := s.quota[label]
		if q > int64(len(idx)) {
			return nil, fmt.Errorf("label %q: %d rows planned but %d found (did the input change since it was measured?)", label, q, len(idx))
		}
		stream := Hash(s.stream, Seed(0, label))
		for j, keep := range SelectCount(stream, len(idx), int(q)) {
			if keep {
				kept[idx[j]] = true
			}
		}
	}
	return func(i int64) bool { return kept[i] }, nil
}

func newBalanceSelector(args, global json.RawMessage) (func(shardmap.Task) (shardmap.Selector, error), error) {
	var a BalanceArgs
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, fmt.Errorf("decode arguments: %w", err)
	}
	expr, err := rows.Compile(a.LabelExpression)
	if err != nil {
		return nil, err
	}
	sum, err := decodeSummary(global)
	if err != nil {
		return nil, err
	}
	plan, err := NewBalancePlan(a.Seed, sum)
	if err != nil {
		return nil, err
	}
	return func(t shardmap.Task) (shardmap.Selector, error) {
		return &labelSelector{
			stream: Seed(a.Seed, "balance", t.Rel),
			expr:   expr,
			quota:  plan.quota[t.Input],
			byLbl:  map[string][]int64{},
		}, nil
	}, nil
}

func decodeSummary(global json.RawMessage) (*summary.Summary, error) {
	if len(global) == 0 || string(global) == "null" {
		return nil, fmt.Errorf("this step needs the measured summary of its inputs")
	}
	return summary.Decode(global)
}

func init() {
	shardmap.RegisterSelector("sample", newSampleSelector)
	shardmap.RegisterSelector("balance", newBalanceSelector)
}
