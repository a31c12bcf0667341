package head

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Task is what a head is trained for.
type Task string

// The tasks.
const (
	// Classification: Outputs ≥ 2 logits, cross-entropy.
	Classification Task = "classification"
	// Regression: one output, mean squared error.
	Regression Task = "regression"
	// Ranking: one score, pairwise hinge loss within clusters.
	Ranking Task = "ranking"
)

// Activation is the non-linearity after each hidden layer.
type Activation string

// The activations.
const (
	ReLU Activation = "relu"
	Tanh Activation = "tanh"
)

// Config is a head's shape.
type Config struct {
	// InputDim is the width of the input features.
	InputDim int `json:"input_dim"`
	// Hidden lists the widths of the hidden layers (none: a linear head).
	Hidden []int `json:"hidden"`
	// Activation follows every hidden layer (default ReLU).
	Activation Activation `json:"activation"`
	// Outputs is the number of outputs: the classes, or 1.
	Outputs int  `json:"outputs"`
	Task    Task `json:"task"`
}

// DefaultHidden is model2vec's hidden width.
const DefaultHidden = 512

// NewConfig returns model2vec's default shape for a task: one hidden layer
// of 512 with ReLU; outputs is the number of classes (ignored, 1, for
// regression and ranking).
func NewConfig(task Task, inputDim, outputs int) Config {
	if task != Classification {
		outputs = 1
	}
	return Config{InputDim: inputDim, Hidden: []int{DefaultHidden}, Activation: ReLU, Outputs: outputs, Task: task}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.InputDim <= 0 {
		return fmt.Errorf("head: input dimension %d", c.InputDim)
	}
	for i, h := range c.Hidden {
		if h <= 0 {
			return fmt.Errorf("head: hidden layer %d has width %d", i, h)
		}
	}
	switch c.Activation {
	case ReLU, Tanh:
	default:
		return fmt.Errorf("head: unknown activation %q (want relu or tanh)", c.Activation)
	}
	switch c.Task {
	case Classification:
		if c.Outputs < 2 {
			return fmt.Errorf("head: a classifier needs at least 2 outputs, not %d", c.Outputs)
		}
	case Regression, Ranking:
		if c.Outputs != 1 {
			return fmt.Errorf("head: a %s head has 1 output, not %d", c.Task, c.Outputs)
		}
	default:
		return fmt.Errorf("head: unknown task %q (want classification, regression or ranking)", c.Task)
	}
	return nil
}

// dims returns the input and output width of every layer.
func (c *Config) dims() [][2]int {
	widths := append(append([]int{c.InputDim}, c.Hidden...), c.Outputs)
	d := make([][2]int, len(widths)-1)
	for i := range d {
		d[i] = [2]int{widths[i], widths[i+1]}
	}
	return d
}

// Layer is one linear layer: Out outputs of In inputs.
type Layer struct {
	In, Out int
	// W holds Out rows of In weights; B the Out biases.
	W, B []float32
}

// Head is an MLP head with its metadata. It is safe for concurrent use
// once built; nothing modifies it.
type Head struct {
	Config Config
	// Layers are the len(Config.Hidden)+1 linear layers, input first.
	Layers []Layer
	// Labels name the classes of a classifier, one per output.
	Labels []string
	// Range is the score range of a regression or ranking head: the labels'
	// range, used to clip rounded predictions.
	Range *[2]float64
	// Training records how the head was trained (nil when it was built
	// from given weights).
	Training *Record
}

// New returns a head with the given layers, checked against cfg.
func New(cfg Config, layers []Layer) (*Head, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Head{Config: cfg, Layers: layers}
	if err := h.check(); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *Head) check() error {
	dims := h.Config.dims()
	if len(h.Layers) != len(dims) {
		return fmt.Errorf("head: %d layers, config has %d", len(h.Layers), len(dims))
	}
	for i, l := range h.Layers {
		if l.In != dims[i][0] || l.Out != dims[i][1] {
			return fmt.Errorf("head: layer %d is %d→%d, config wants %d→%d", i, l.In, l.Out, dims[i][0], dims[i][1])
		}
		if len(l.W) != l.In*l.Out || len(l.B) != l.Out {
			return fmt.Errorf("head: layer %d has %d weights and %d biases for %d→%d", i, len(l.W), len(l.B), l.In, l.Out)
		}
		for j, v := range l.W {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("head: layer %d weight %d is %v", i, j, v)
			}
		}
		for j, v := range l.B {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("head: layer %d bias %d is %v", i, j, v)
			}
		}
	}
	if h.Config.Task == Classification && h.Labels != nil && len(h.Labels) != h.Config.Outputs {
		return fmt.Errorf("head: %d labels for %d outputs", len(h.Labels), h.Config.Outputs)
	}
	return nil
}

// Clone returns a deep copy of the head's weights and metadata.
func (h *Head) Clone() *Head {
	c := *h
	c.Config.Hidden = slices.Clone(h.Config.Hidden)
	c.Layers = make([]Layer, len(h.Layers))
	for i, l := range h.Layers {
		c.Layers[i] = Layer{In: l.In, Out: l.Out, W: slices.Clone(l.W), B: slices.Clone(l.B)}
	}
	c.Labels = slices.Clone(h.Labels)
	if h.Range != nil {
		r := *h.Range
		c.Range = &r
	}
	return &c
}

// initLayers returns freshly initialised layers: every hidden layer
// Kaiming-uniform for its activation (bound gain·√(3/in), gain √2 for ReLU
// and 5/3 for tanh, as torch.nn.init.kaiming_uniform_ and
// calculate_gain), the output layer Xavier-uniform (bound √(6/(in+out))),
// all biases zero: model2vec's classifier initialisation. Values come from
// a PCG stream of the seed, in layer order, row-major.
func initLayers(cfg Config, seed uint64) []Layer {
	r := rand.New(rand.NewPCG(seed, 0x68656164)) // "head"
	dims := cfg.dims()
	layers := make([]Layer, len(dims))
	for i, d := range dims {
		in, out := d[0], d[1]
		var bound float64
		if i < len(dims)-1 {
			gain := math.Sqrt2
			if cfg.Activation == Tanh {
				gain = 5.0 / 3
			}
			bound = gain * math.Sqrt(3/float64(in))
		} else {
			bound = math.Sqrt(6 / float64(in+out))
		}
		l := Layer{In: in, Out: out, W: make([]float32, in*out), B: make([]float32, out)}
		for j := range l.W {
			l.W[j] = float32((2*r.Float64() - 1) * bound)
		}
		layers[i] = l
	}
	return layers
}
