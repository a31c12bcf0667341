package encoder

import (
	"fmt"
	"math"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // GoMLX graphs read best with its ops unqualified.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/layers/attention"
	"github.com/gomlx/gomlx/ml/nn"
)

// Output selects what the encoder computes for each text.
type Output int

// The outputs of the forward pass.
const (
	// OutputLogits is the classifier's output before any activation
	// (BertForSequenceClassification only): [labels] per text.
	OutputLogits Output = iota
	// OutputPooled is the pooler's output, tanh(dense([CLS] state)):
	// [hidden] per text.
	OutputPooled
	// OutputCLS is the last hidden state of [CLS]: [hidden] per text.
	OutputCLS
	// OutputMean is the mean of the last hidden states of the text's
	// tokens, [CLS] and [SEP] included, padding excluded: [hidden] per text.
	OutputMean
	numOutputs
)

func (o Output) String() string {
	switch o {
	case OutputLogits:
		return "logits"
	case OutputPooled:
		return "pooled"
	case OutputCLS:
		return "cls"
	case OutputMean:
		return "mean"
	}
	return fmt.Sprintf("Output(%d)", int(o))
}

// graphFn returns the graph function of output out: its inputs are the
// parameters in params.fields order, then the token ids (int32 [batch,
// length]) and the attention mask (float32 [batch, length], 1 for tokens and
// 0 for padding).
func graphFn(cfg *Config, shape *params[*tensors.Tensor], out Output) func([]*Node) *Node {
	return func(inputs []*Node) *Node {
		p := skeleton[*tensors.Tensor, *Node](shape)
		fields := p.fields()
		for i, f := range fields {
			*f = inputs[i]
		}
		ids, mask := inputs[len(fields)], inputs[len(fields)+1]
		return forward(cfg, p, ids, mask, out)
	}
}

// forward builds BertModel's forward pass in eval mode (as Hugging Face
// transformers computes it) and the requested output.
func forward(cfg *Config, p *params[*Node], ids, mask *Node, out Output) *Node {
	batch, length := ids.Shape().Dimensions[0], ids.Shape().Dimensions[1]
	hidden, heads := cfg.HiddenSize, cfg.NumAttentionHeads
	eps := cfg.LayerNormEps

	x := Gather(p.word, InsertAxes(ids, -1)) // [batch, length, hidden]
	x = Add(x, InsertAxes(Slice(p.posType, AxisRange(0, length)), 0))
	x = layerNorm(x, p.embNorm, eps)

	// Padding is masked by adding the lowest float32 to its attention
	// scores, as transformers does; scores are [batch, head, query, key].
	additive := Reshape(MulScalar(OneMinus(mask), -math.MaxFloat32), batch, 1, 1, length)
	for i := range p.layers {
		l := &p.layers[i]
		split := func(d *linear[*Node]) *Node { // [batch, head, length, head dim]
			return TransposeAllAxes(Reshape(dense(x, d), batch, length, heads, hidden/heads), 0, 2, 1, 3)
		}
		ctx, _ := attention.Core(split(&l.query), split(&l.key), split(&l.value), attention.LayoutBHSD,
			attention.CoreOptions{AttentionMask: additive})
		ctx = Reshape(TransposeAllAxes(ctx, 0, 2, 1, 3), batch, length, hidden)
		x = layerNorm(Add(dense(ctx, &l.attnOut), x), l.attnNorm, eps)
		x = layerNorm(Add(dense(feedForward(cfg.HiddenAct, x, &l.inter), &l.out), x), l.outNorm, eps)
	}

	cls := Reshape(Slice(x, AxisRange(), AxisRange(0, 1)), batch, hidden)
	switch out {
	case OutputCLS:
		return cls
	case OutputMean:
		m := InsertAxes(mask, -1)
		sum := ReduceSum(Mul(x, m), 1)
		return Div(sum, MaxScalar(ReduceSum(m, 1), 1e-9))
	}
	pooled := nn.Dense(cls, p.pooler.weight, p.pooler.bias, compute.DenseLayoutOutputsInput, activation.TypeTanh)
	if out == OutputPooled {
		return pooled
	}
	return dense(pooled, p.classifier)
}

// dense applies a PyTorch linear layer (weight [out, in]).
func dense(x *Node, d *linear[*Node]) *Node {
	return nn.Dense(x, d.weight, d.bias, compute.DenseLayoutOutputsInput)
}

// feedForward is the intermediate dense layer with its activation.
func feedForward(act string, x *Node, d *linear[*Node]) *Node {
	switch act {
	case "gelu":
		return nn.Dense(x, d.weight, d.bias, compute.DenseLayoutOutputsInput, activation.TypeGelu)
	case "relu":
		return nn.Dense(x, d.weight, d.bias, compute.DenseLayoutOutputsInput, activation.TypeRelu)
	}
	// gelu_new and gelu_pytorch_tanh: the tanh approximation, applied
	// apart because nn.Dense's fused path computes the exact GELU for
	// activation.TypeGeluApprox too.
	return activation.GeluApproximate(dense(x, d))
}

func layerNorm(x *Node, n norm[*Node], eps float64) *Node {
	return nn.LayerNorm(x, []int{-1}, eps, n.scale, n.shift, nil)
}
