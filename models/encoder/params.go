package encoder

import (
	"fmt"

	"github.com/gomlx/gomlx/core/tensors"
)

// params holds a BERT model's parameters, as host tensors
// (T = *tensors.Tensor) when loaded and as graph nodes (T = *graph.Node)
// while a graph is built. Linear weights keep PyTorch's [out, in] layout.
type params[T any] struct {
	word T // [vocab, hidden]
	// posType is the position embeddings plus the embedding of token type
	// 0, which every single-sequence input uses: [max positions, hidden].
	posType    T
	embNorm    norm[T]
	layers     []layer[T]
	pooler     *linear[T] // [hidden, hidden]; nil when the checkpoint has none
	classifier *linear[T] // [labels, hidden]; nil for a BertModel
}

type linear[T any] struct{ weight, bias T }

type norm[T any] struct{ scale, shift T }

type layer[T any] struct {
	query, key, value, attnOut linear[T]
	attnNorm                   norm[T]
	inter, out                 linear[T]
	outNorm                    norm[T]
}

// fields returns pointers to every parameter in a fixed order: the order in
// which they are passed to, and read by, the compiled graphs.
func (p *params[T]) fields() []*T {
	f := []*T{&p.word, &p.posType, &p.embNorm.scale, &p.embNorm.shift}
	for i := range p.layers {
		l := &p.layers[i]
		for _, d := range []*linear[T]{&l.query, &l.key, &l.value, &l.attnOut} {
			f = append(f, &d.weight, &d.bias)
		}
		f = append(f, &l.attnNorm.scale, &l.attnNorm.shift)
		for _, d := range []*linear[T]{&l.inter, &l.out} {
			f = append(f, &d.weight, &d.bias)
		}
		f = append(f, &l.outNorm.scale, &l.outNorm.shift)
	}
	for _, d := range []*linear[T]{p.pooler, p.classifier} {
		if d != nil {
			f = append(f, &d.weight, &d.bias)
		}
	}
	return f
}

// skeleton returns an empty params of another element type with p's
// structure (number of layers, pooler and classifier present or not).
func skeleton[T, U any](p *params[T]) *params[U] {
	s := &params[U]{layers: make([]layer[U], len(p.layers))}
	if p.pooler != nil {
		s.pooler = &linear[U]{}
	}
	if p.classifier != nil {
		s.classifier = &linear[U]{}
	}
	return s
}

// loadParams reads the parameters of a model of configuration cfg from c.
// The pooler is read when the checkpoint has one (it must for
// BertForSequenceClassification), the classifier for
// BertForSequenceClassification.
func loadParams(c *checkpoint, cfg *Config) (*params[*tensors.Tensor], error) {
	H, I, P := cfg.HiddenSize, cfg.IntermediateSize, cfg.MaxPositionEmbeddings
	pre := c.prefix
	p := &params[*tensors.Tensor]{layers: make([]layer[*tensors.Tensor], cfg.NumHiddenLayers)}
	var err error
	tensor := func(name string, dims ...int) *tensors.Tensor {
		if err != nil {
			return nil
		}
		var data []float32
		if data, err = c.read(name, dims...); err != nil {
			return nil
		}
		return tensors.FromFlatDataAndDimensions(data, dims...)
	}
	lin := func(name string, out, in int) linear[*tensors.Tensor] {
		return linear[*tensors.Tensor]{tensor(name+".weight", out, in), tensor(name+".bias", out)}
	}
	nrm := func(name string) norm[*tensors.Tensor] {
		if err != nil {
			return norm[*tensors.Tensor]{}
		}
		var scale, shift []float32
		if scale, shift, err = c.readNorm(name, H); err != nil {
			return norm[*tensors.Tensor]{}
		}
		return norm[*tensors.Tensor]{tensors.FromFlatDataAndDimensions(scale, H), tensors.FromFlatDataAndDimensions(shift, H)}
	}

	p.word = tensor(pre+"embeddings.word_embeddings.weight", cfg.VocabSize, H)
	pos, err1 := c.read(pre+"embeddings.position_embeddings.weight", P, H)
	types, err2 := c.read(pre+"embeddings.token_type_embeddings.weight", cfg.TypeVocabSize, H)
	if err = firstError(err, err1, err2); err != nil {
		return nil, err
	}
	for i := range pos {
		pos[i] += types[i%H]
	}
	p.posType = tensors.FromFlatDataAndDimensions(pos, P, H)
	p.embNorm = nrm(pre + "embeddings.LayerNorm")
	for i := range p.layers {
		l, n := &p.layers[i], fmt.Sprintf("%sencoder.layer.%d.", pre, i)
		l.query = lin(n+"attention.self.query", H, H)
		l.key = lin(n+"attention.self.key", H, H)
		l.value = lin(n+"attention.self.value", H, H)
		l.attnOut = lin(n+"attention.output.dense", H, H)
		l.attnNorm = nrm(n + "attention.output.LayerNorm")
		l.inter = lin(n+"intermediate.dense", I, H)
		l.out = lin(n+"output.dense", H, I)
		l.outNorm = nrm(n + "output.LayerNorm")
	}
	if cfg.Arch() == ArchSequenceClassification || c.has(pre+"pooler.dense.weight") {
		d := lin(pre+"pooler.dense", H, H)
		p.pooler = &d
	}
	if cfg.Arch() == ArchSequenceClassification {
		d := lin("classifier", cfg.NumLabels, H)
		p.classifier = &d
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
