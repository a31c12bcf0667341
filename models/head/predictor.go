package head

import (
	"fmt"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/winnowlabs/winnow/models/gomlxbackend"
)

// DefaultBatchSizes are the batch shapes a Predictor compiles: a call's
// rows are cut into batches of the largest size and the rest is padded to
// the smallest size that holds it, so at most this many shapes compile.
var DefaultBatchSizes = []int{1, 4, 16, 64, 256, 1024}

// Predictor runs a head on a GoMLX backend. Each batch shape is compiled
// once, on first use; one Predictor serves any number of goroutines
// concurrently. The weights are constants of the compiled graphs.
type Predictor struct {
	head  *Head
	sizes []int
	exec  *graph.Exec
}

// NewPredictor prepares h for inference on backend with the given batch
// sizes (DefaultBatchSizes when none).
func NewPredictor(backend compute.Backend, h *Head, batchSizes ...int) (*Predictor, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	sizes := slices.Clone(batchSizes)
	if len(sizes) == 0 {
		sizes = slices.Clone(DefaultBatchSizes)
	}
	slices.Sort(sizes)
	sizes = slices.Compact(sizes)
	if sizes[0] <= 0 {
		return nil, fmt.Errorf("head: batch size %d", sizes[0])
	}
	weights := make([]*tensors.Tensor, 0, 2*len(h.Layers))
	for _, l := range h.Layers {
		weights = append(weights, tensors.FromFlatDataAndDimensions(l.W, l.Out, l.In),
			tensors.FromFlatDataAndDimensions(l.B, l.Out))
	}
	cfg := h.Config
	p := &Predictor{head: h, sizes: sizes}
	err := gomlxbackend.Recover(func() error {
		var err error
		p.exec, err = graph.NewExec(backend, func(x *graph.Node) *graph.Node {
			params := make([]*graph.Node, len(weights))
			for i, w := range weights {
				params[i] = graph.ConstTensor(x.Graph(), w)
			}
			return mlpGraph(&cfg, x, params)
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("head: build predictor: %w", err)
	}
	p.exec.SetMaxCache(len(sizes))
	return p, nil
}

// Forward computes the outputs of the rows of x (rows of InputDim) into
// dst (rows of Outputs) and returns dst[:rows*Outputs], like Head.Forward.
func (p *Predictor) Forward(dst, x []float32) ([]float32, error) {
	d, k := p.head.Config.InputDim, p.head.Config.Outputs
	if len(x)%d != 0 {
		return nil, fmt.Errorf("head: input of %d values is not rows of %d", len(x), d)
	}
	rows := len(x) / d
	if len(dst) < rows*k {
		return nil, fmt.Errorf("head: output buffer of %d values for %d rows of %d outputs", len(dst), rows, k)
	}
	largest := p.sizes[len(p.sizes)-1]
	for off := 0; off < rows; {
		n := min(rows-off, largest)
		size := p.sizes[0]
		for _, s := range p.sizes {
			if size = s; s >= n {
				break
			}
		}
		in := tensors.FromShape(shapes.Make(dtypes.Float32, size, d))
		tensors.MustMutableFlatData(in, func(flat []float32) {
			clear(flat[copy(flat, x[off*d:(off+n)*d]):])
		})
		err := gomlxbackend.Recover(func() error {
			out, err := p.exec.Exec(in)
			if err != nil {
				return err
			}
			defer out[0].FinalizeAll()
			return tensors.ConstFlatData(out[0], func(flat []float32) {
				copy(dst[off*k:(off+n)*k], flat[:n*k])
			})
		})
		if err != nil {
			return nil, fmt.Errorf("head: predict: %w", err)
		}
		off += n
	}
	return dst[:rows*k], nil
}
