package head

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// Embeddings is the trainable part of a static embedding model
// (Model2Vec): a table of Vocab rows of Dim values, indexed by token id
// (vocabulary quantization resolved), optional per-token weights, and
// whether pooled vectors are L2-normalised.
//
// Its encoding of a text whose n token ids are t₁ … tₙ is
//
//	v = (1/n) Σₖ weight[tₖ] · Table[tₖ]        (v = 0 when n = 0)
//	v ← v / ‖v‖                                 when Normalize
//
// which is what the model2vec library's StaticModel.encode (and
// models/model2vec's Encode and Pool) computes for a model saved with
// embeddings = Table and weights = Weights, up to the 1e-32 it adds to the
// norm. Without Weights, every weight is 1.
type Embeddings struct {
	Vocab, Dim int
	Table      []float32
	// Weights are the per-token weights, each in (0, 1), or nil.
	Weights   []float32
	Normalize bool
}

// RandomEmbeddings returns a freshly initialised table for training from
// scratch: vocab rows of dim values drawn from N(0, 1/dim) by a PCG stream
// of seed (so rows have an expected norm of 1), no weights (they start at
// ½ when trained), normalised pooling.
func RandomEmbeddings(vocab, dim int, seed uint64) *Embeddings {
	r := rand.New(rand.NewPCG(seed, 0x656d626564)) // "embed"
	t := make([]float32, vocab*dim)
	sd := 1 / math.Sqrt(float64(dim))
	for i := range t {
		t[i] = float32(r.NormFloat64() * sd)
	}
	return &Embeddings{Vocab: vocab, Dim: dim, Table: t, Normalize: true}
}

func (e *Embeddings) check() error {
	if e.Vocab <= 0 || e.Dim <= 0 {
		return fmt.Errorf("head: embeddings of %d×%d", e.Vocab, e.Dim)
	}
	if len(e.Table) != e.Vocab*e.Dim {
		return fmt.Errorf("head: embedding table has %d values for %d×%d", len(e.Table), e.Vocab, e.Dim)
	}
	for i, v := range e.Table {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("head: embedding of token %d has value %v", i/e.Dim, v)
		}
	}
	if e.Weights != nil {
		if len(e.Weights) != e.Vocab {
			return fmt.Errorf("head: %d token weights for a vocabulary of %d", len(e.Weights), e.Vocab)
		}
		for i, w := range e.Weights {
			if !(w > 0 && w < 1) {
				return fmt.Errorf("head: token %d has weight %v; fine-tuning trains weights in (0, 1)", i, w)
			}
		}
	}
	return nil
}

// logits returns the trained parameters behind the weights: weight =
// sigmoid(logit), as model2vec's trainer keeps them; 0 (weight ½) without
// weights.
func (e *Embeddings) logits() []float32 {
	l := make([]float32, e.Vocab)
	for i, w := range e.Weights {
		l[i] = float32(math.Log(float64(w) / (1 - float64(w))))
	}
	return l
}

// fromTrained sets the table and the weights from trained values.
func (e *Embeddings) fromTrained(table, logits []float32) {
	e.Table = table
	e.Weights = make([]float32, len(logits))
	for i, l := range logits {
		e.Weights[i] = float32(1 / (1 + math.Exp(-float64(l))))
	}
}

// TokenDataset holds rows of token ids (the ids a static model pools:
// truncated, unknown tokens dropped) and their labels.
type TokenDataset struct {
	IDs     [][]int32
	Classes []int
	Targets []float32
}

// Finetune trains a classification or regression head together with the
// embedding table and the per-token weights of emb (model2vec's default
// mode, freeze=False), on padded batches of token ids. It returns the head
// and the trained embeddings; saved as a Model2Vec model (embeddings =
// Table, weights = Weights), they encode texts exactly as the graph that
// trained them (see Embeddings):
//
//	pooled = Σₖ σ(ℓ[tₖ])·Table[tₖ] / (n + 1e-16), then
//	pooled / √(‖pooled‖² + 1e-24) when Normalize,
//
// with ℓ the trained weight logits (initialised to logit(Weights), or 0).
// It differs from model2vec's trainer in two ways: padding is masked by
// each row's length, not by comparing ids with the pad id (a text that
// contains the pad token keeps it, as StaticModel.encode does), and the
// epsilon under the norm keeps the gradient of an empty row finite.
//
// Rows are bucketed by length into batches padded to a power of two of at
// least 16 tokens, so a handful of shapes compile.
func Finetune(ctx context.Context, backend compute.Backend, cfg Config, emb Embeddings, train, valid TokenDataset, opts Options) (*Head, *Embeddings, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	if cfg.Task == Ranking {
		return nil, nil, fmt.Errorf("head: ranking heads train on pooled features, not fine-tuned embeddings")
	}
	if err := emb.check(); err != nil {
		return nil, nil, err
	}
	if cfg.InputDim != emb.Dim {
		return nil, nil, fmt.Errorf("head: input dimension %d, embeddings have %d", cfg.InputDim, emb.Dim)
	}
	e := emb
	r := &run{cfg: cfg, opts: opts, backend: backend, mode: "finetune", embed: &e}
	validGiven := len(valid.IDs) > 0 || len(valid.Classes) > 0 || len(valid.Targets) > 0
	err := r.setData(&tokenSource{ids: train.IDs, vocab: e.Vocab}, &tokenSource{ids: valid.IDs, vocab: e.Vocab},
		labels{train.Classes, train.Targets}, labels{valid.Classes, valid.Targets}, validGiven)
	if err != nil {
		return nil, nil, err
	}
	h, err := r.fit(ctx)
	if err != nil {
		return nil, nil, err
	}
	return h, r.embed, nil
}

// tokenSource holds rows of token ids.
type tokenSource struct {
	ids   [][]int32
	vocab int
}

func (s *tokenSource) rows() int { return len(s.ids) }

func (s *tokenSource) check() (int, error) {
	for i, row := range s.ids {
		for j, id := range row {
			if id < 0 || int(id) >= s.vocab {
				return 0, fmt.Errorf("row %d token %d has id %d, outside the vocabulary of %d", i, j, id, s.vocab)
			}
		}
	}
	return len(s.ids), nil
}

// bucketLen is the padded length of a row of n tokens: the next power of
// two, at least 16.
func bucketLen(n int) int {
	if n <= 16 {
		return 16
	}
	return 1 << bits.Len(uint(n-1))
}

func (s *tokenSource) inputs(rows []int, size int) []*tensors.Tensor {
	longest := 0
	for _, r := range rows {
		longest = max(longest, len(s.ids[r]))
	}
	l := bucketLen(longest)
	ids := tensors.FromShape(shapes.Make(dtypes.Int32, size, l))
	lengths := make([]int32, size)
	tensors.MustMutableFlatData(ids, func(flat []int32) {
		clear(flat)
		for i, r := range rows {
			copy(flat[i*l:], s.ids[r])
			lengths[i] = int32(len(s.ids[r]))
		}
	})
	return []*tensors.Tensor{ids, tensors.FromFlatDataAndDimensions(lengths, size)}
}

// batches groups rows by padded length (shorter buckets first, rows in the
// given order within a bucket) and cuts each group into batches.
func (s *tokenSource) batches(rows []int, b int) [][]int {
	groups := map[int][]int{}
	var lens []int
	for _, r := range rows {
		l := bucketLen(len(s.ids[r]))
		if _, ok := groups[l]; !ok {
			lens = append(lens, l)
		}
		groups[l] = append(groups[l], r)
	}
	slices.Sort(lens)
	var out [][]int
	for _, l := range lens {
		out = append(out, chunks(groups[l], b)...)
	}
	return out
}

func (s *tokenSource) subset(rows []int) source {
	ids := make([][]int32, len(rows))
	for i, r := range rows {
		ids[i] = s.ids[r]
	}
	return &tokenSource{ids: ids, vocab: s.vocab}
}

// pooledGraph pools token embeddings as Embeddings documents: ids [B, L]
// (padded with any id), lengths [B], table [V, d], weight logits [V].
func pooledGraph(ids, lengths, table, logits *graph.Node, normalize bool) *graph.Node {
	g := ids.Graph()
	b, l := ids.Shape().Dim(0), ids.Shape().Dim(1)
	idx := graph.ExpandAxes(ids, -1)
	emb := graph.Gather(table, idx)               // [B, L, d]
	w := graph.Sigmoid(graph.Gather(logits, idx)) // [B, L]
	pos := graph.Iota(g, shapes.Make(dtypes.Int32, b, l), 1)
	mask := graph.ConvertDType(graph.LessThan(pos, graph.ExpandAxes(lengths, -1)), dtypes.Float32)
	w = graph.Mul(w, mask)
	sum := graph.ReduceSum(graph.Mul(graph.ExpandAxes(w, -1), emb), 1) // [B, d]
	n := graph.AddScalar(graph.ConvertDType(lengths, dtypes.Float32), float32(1e-16))
	pooled := graph.Div(sum, graph.ExpandAxes(n, -1))
	if normalize {
		norm := graph.Sqrt(graph.AddScalar(graph.ReduceSum(graph.Square(pooled), -1), float32(1e-24)))
		pooled = graph.Div(pooled, graph.ExpandAxes(norm, -1))
	}
	return pooled
}
