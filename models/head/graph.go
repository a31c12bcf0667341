package head

import (
	"github.com/gomlx/gomlx/core/graph"
)

// mlpGraph builds the head's forward pass: x [B, InputDim] → [B, Outputs].
// params holds each layer's weight [out, in] and bias [out], in order.
func mlpGraph(cfg *Config, x *graph.Node, params []*graph.Node) *graph.Node {
	h := x
	last := len(params)/2 - 1
	for i := 0; i <= last; i++ {
		w, b := params[2*i], params[2*i+1]
		// h·Wᵀ: contract h's axis 1 with W's axis 1 (its "in" axis).
		h = graph.Add(graph.Dot(h, w).General([]int{1}, nil, []int{1}, nil), graph.ExpandAxes(b, 0))
		if i < last {
			if cfg.Activation == Tanh {
				h = graph.Tanh(h)
			} else {
				h = graph.MaxScalar(h, float32(0))
			}
		}
	}
	return h
}
