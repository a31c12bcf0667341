package prepare

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/winnowlabs/winnow/pipelines/mapstep"

	"github.com/winnowlabs/winnow/transforms/sampling"
	"github.com/winnowlabs/winnow/transforms/shardmap"
)

// SampleOptions configures Sample. Exactly one of Rate and TargetBytes is set.
type SampleOptions struct {
	mapstep.Common
	// Rate is the fraction of the input's bytes to keep, in (0, 1].
	Rate float64 `json:"rate,omitempty"`
	// TargetBytes is the total size to keep, in uncompressed bytes of the
	// written rows.
	TargetBytes int64 `json:"target_bytes,omitempty"`
	Seed        int64 `json:"seed"`
}

// SampleReport is what Sample achieved; it is stored in the manifest.
type SampleReport struct {
	InputBytes    int64   `json:"input_bytes"`
	TargetBytes   int64   `json:"target_bytes"`
	WrittenBytes  int64   `json:"written_bytes"`
	RequestedRate float64 `json:"requested_rate"`
	AchievedRate  float64 `json:"achieved_rate"`
	ErrorPercent  float64 `json:"error_percent"`
}

// Sample keeps a seeded random subset of every shard, drawn over the whole
// shard, sized to a rate or to a total target size. With a target size the
// inputs are measured first; each shard then keeps its proportional share,
// selected exactly (to within one row) rather than by coin flips, so the
// total lands close to the target.
func Sample(ctx context.Context, o SampleOptions) (*mapstep.Result, *SampleReport, error) {
	if math.IsNaN(o.Rate) || o.Rate < 0 || o.Rate > 1 {
		return nil, nil, fmt.Errorf("sampling rate %v is not in (0, 1]", o.Rate)
	}
	if o.TargetBytes < 0 {
		return nil, nil, fmt.Errorf("target size %d is negative", o.TargetBytes)
	}
	if (o.Rate > 0) == (o.TargetBytes > 0) {
		return nil, nil, fmt.Errorf("give exactly one of a sampling rate and a target size")
	}
	step := mapstep.Step{
		Command:  "sample",
		Options:  o,
		Selector: mapstep.MustSpec("sample", sampling.SampleArgs{Seed: o.Seed, Rate: o.Rate, TargetBytes: o.TargetBytes}),
	}
	if o.TargetBytes > 0 {
		step.Measure = &shardmap.MeasureArgs{}
	}
	var report SampleReport
	step.Extra = func(m *shardmap.Manifest) error {
		report = SampleReport{
			InputBytes:   m.Totals.BytesIn,
			TargetBytes:  o.TargetBytes,
			WrittenBytes: m.Totals.BytesOut,
		}
		report.RequestedRate = o.Rate
		if o.TargetBytes > 0 && m.Totals.BytesIn > 0 {
			report.RequestedRate = float64(o.TargetBytes) / float64(m.Totals.BytesIn)
		}
		if report.TargetBytes == 0 {
			report.TargetBytes = int64(o.Rate * float64(m.Totals.BytesIn))
		}
		if m.Totals.BytesIn > 0 {
			report.AchievedRate = float64(m.Totals.BytesOut) / float64(m.Totals.BytesIn)
		}
		if report.TargetBytes > 0 {
			report.ErrorPercent = 100 * float64(report.WrittenBytes-report.TargetBytes) / float64(report.TargetBytes)
		}
		b, err := json.Marshal(report)
		m.Extra = b
		return err
	}
	res, err := mapstep.Run(ctx, o.Common, step)
	if err != nil {
		return nil, nil, err
	}
	return res, &report, nil
}
