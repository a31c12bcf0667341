package prepare

import (
	"context"

	"github.com/winnowlabs/winnow/transforms/rows"
)

// TransformOptions configures Transform.
type TransformOptions struct {
	Common
	rows.TransformArgs
}

// Transform rewrites every row with jq: bonepick's --text-transform and
// --label-transform (the output row merges both results) or a whole-row
// --expression that may drop rows. Expressions compile once, before any
// data is read.
func Transform(ctx context.Context, o TransformOptions) (*Result, error) {
	if err := o.TransformArgs.Validate(); err != nil {
		return nil, err
	}
	return runMap(ctx, o.Common, mapStep{
		command: "transform",
		options: o,
		ops:     []rows.Spec{*mustSpec("transform", o.TransformArgs)},
	})
}
