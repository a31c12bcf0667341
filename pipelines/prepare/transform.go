package prepare

import (
	"context"

	"github.com/winnowlabs/winnow/pipelines/mapstep"

	"github.com/winnowlabs/winnow/transforms/rows"
)

// TransformOptions configures Transform.
type TransformOptions struct {
	mapstep.Common
	rows.TransformArgs
}

// Transform rewrites every row with jq: bonepick's --text-transform and
// --label-transform (the output row merges both results) or a whole-row
// --expression that may drop rows. Expressions compile once, before any
// data is read.
func Transform(ctx context.Context, o TransformOptions) (*mapstep.Result, error) {
	if err := o.TransformArgs.Validate(); err != nil {
		return nil, err
	}
	return mapstep.Run(ctx, o.Common, mapstep.Step{
		Command: "transform",
		Options: o,
		Ops:     []rows.Spec{*mapstep.MustSpec("transform", o.TransformArgs)},
	})
}
