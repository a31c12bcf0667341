package prepare

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/winnowlabs/winnow/pipelines/mapstep"

	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/sampling"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
	"github.com/winnowlabs/winnow/transforms/summary"
)

// BalanceOptions configures Balance.
type BalanceOptions struct {
	mapstep.Common
	LabelExpression string `json:"label_expression"`
	Seed            int64  `json:"seed"`
}

// BalanceReport gives, per split, the label counts before and after.
type BalanceReport struct {
	Before map[string]map[string]int64 `json:"before"`
	Target map[string]int64            `json:"target_per_label"`
}

// Balance downsamples every label of each split to the count of the split's
// rarest label, exactly. Several input datasets are pooled split by split.
// Label counts come from a measuring pass merged by a Beam combiner; each
// shard then keeps a seeded random subset of each label.
func Balance(ctx context.Context, o BalanceOptions) (*mapstep.Result, *BalanceReport, error) {
	if o.LabelExpression == "" {
		o.LabelExpression = rows.DefaultLabelExpression
	}
	if _, err := rows.Compile(o.LabelExpression); err != nil {
		return nil, nil, err
	}
	var report BalanceReport
	res, err := mapstep.Run(ctx, o.Common, mapstep.Step{
		Command:  "balance",
		Options:  o,
		Measure:  &shardmap.MeasureArgs{LabelExpression: o.LabelExpression},
		Selector: mapstep.MustSpec("balance", sampling.BalanceArgs{Seed: o.Seed, LabelExpression: o.LabelExpression}),
		Extra: func(m *shardmap.Manifest) error {
			sum, err := readSummary(ctx, o.Common)
			if err != nil {
				return err
			}
			plan, err := sampling.NewBalancePlan(o.Seed, sum)
			if err != nil {
				return err
			}
			report.Before = map[string]map[string]int64{}
			for name, sp := range sum.Splits {
				report.Before[name] = sp.Labels
			}
			report.Target = plan.Target
			b, err := json.Marshal(report)
			m.Extra = b
			return err
		},
	})
	if err != nil {
		return nil, nil, err
	}
	return res, &report, nil
}

// readSummary loads the input summary a measuring step left in its output.
func readSummary(ctx context.Context, c mapstep.Common) (*summary.Summary, error) {
	p := storage.Join(storage.Clean(c.Output), shardmap.SummaryName)
	b, err := storage.ReadFile(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("read input summary: %w", err)
	}
	return summary.Decode(b)
}
