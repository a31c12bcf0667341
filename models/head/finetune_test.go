package head

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/winnowlabs/winnow/models/model2vec"
)

// encode is what a Model2Vec model saved with e's table and weights
// encodes for ids: model2vec.Pool, that package's reference forward.
func encode(e *Embeddings, ids []int32) []float32 {
	out := make([]float32, e.Dim)
	model2vec.Pool(out, e.Table, e.Dim, e.Weights, ids, e.Normalize)
	return out
}

// tokenTask makes rows of token ids whose class is whether more than a
// quarter of their tokens are "positive" (ids below vocab/4), and whose
// target is ten times that share; row lengths vary from 0 to 40 so that
// several buckets are used.
func tokenTask(n, vocab int, seed uint64) TokenDataset {
	r := rand.New(rand.NewPCG(seed, 11))
	var ds TokenDataset
	for range n {
		l := r.IntN(41)
		ids := make([]int32, l)
		pos := 0
		for k := range ids {
			ids[k] = int32(r.IntN(vocab))
			if int(ids[k]) < vocab/4 {
				pos++
			}
		}
		c := 0
		if 4*pos > l {
			c = 1
		}
		ds.IDs = append(ds.IDs, ids)
		ds.Classes = append(ds.Classes, c)
		frac := float32(0)
		if l > 0 {
			frac = float32(pos) / float32(l)
		}
		ds.Targets = append(ds.Targets, 10*frac)
	}
	return ds
}

// TestPooledGraphMatchesEncoding checks that the graph fine-tuning trains
// computes, for given tensors, what a Model2Vec model saved with them
// encodes (model2vec.Pool).
func TestPooledGraphMatchesEncoding(t *testing.T) {
	b := goBackend(t)
	for _, normalize := range []bool{true, false} {
		e := RandomEmbeddings(50, 8, 1)
		e.Normalize = normalize
		r := rand.New(rand.NewPCG(2, 2))
		e.Weights = make([]float32, e.Vocab)
		for i := range e.Weights {
			e.Weights[i] = float32(0.05 + 0.9*r.Float64())
		}
		ids := [][]int32{{1, 2, 3}, {}, {0, 0, 49}, {7}, {3, 9, 9, 9, 12, 0, 44, 45, 46, 47, 1, 2, 3, 4, 5, 6, 7}}
		src := &tokenSource{ids: ids}
		in := src.inputs([]int{0, 1, 2, 3, 4}, 6)
		out, err := graph.ExecOnce(b, func(ids, lengths *graph.Node) *graph.Node {
			g := ids.Graph()
			table := graph.Const(g, tensors.FromFlatDataAndDimensions(e.Table, e.Vocab, e.Dim))
			logits := graph.Const(g, tensors.FromFlatDataAndDimensions(e.logits(), e.Vocab))
			return pooledGraph(ids, lengths, table, logits, e.Normalize)
		}, in[0], in[1])
		if err != nil {
			t.Fatal(err)
		}
		got := tensors.MustCopyFlatData[float32](out)
		for i, row := range ids {
			want := encode(e, row)
			for j := range want {
				if d := math.Abs(float64(got[i*e.Dim+j] - want[j])); d > 1e-6 {
					t.Fatalf("normalize %v, row %d value %d: graph %v, encoding %v", normalize, i, j, got[i*e.Dim+j], want[j])
				}
			}
		}
		// The padding row (index 5) pools to zero, not NaN.
		for j := range e.Dim {
			if v := got[5*e.Dim+j]; v != 0 {
				t.Fatalf("padding row pooled to %v", v)
			}
		}
	}
}

func TestBucketLen(t *testing.T) {
	for n, want := range map[int]int{0: 16, 1: 16, 16: 16, 17: 32, 32: 32, 33: 64, 300: 512, 512: 512} {
		if got := bucketLen(n); got != want {
			t.Errorf("bucketLen(%d) = %d, want %d", n, got, want)
		}
	}
	s := &tokenSource{ids: [][]int32{make([]int32, 3), make([]int32, 20), make([]int32, 5), make([]int32, 40), make([]int32, 17)}}
	if got := fmt.Sprint(s.batches([]int{0, 1, 2, 3, 4}, 2)); got != "[[0 2] [1 4] [3]]" {
		t.Errorf("batches %s, want [[0 2] [1 4] [3]]", got)
	}
}

// TestFinetuneLearnsAndEncodes fine-tunes a from-scratch table: it learns
// the task, is deterministic, and the returned table and weights, encoded
// as a saved model would encode them, give the head's validation outputs.
func TestFinetuneLearnsAndEncodes(t *testing.T) {
	b := goBackend(t)
	const vocab, dim = 60, 8
	train, valid := tokenTask(400, vocab, 1), tokenTask(100, vocab, 2)
	train.Targets, valid.Targets = nil, nil
	cfg := NewConfig(Classification, dim, 2)
	cfg.Hidden = []int{16}
	opts := Options{MaxEpochs: 12, Seed: 5, LearningRate: 0.01, BatchSize: 32}
	emb := RandomEmbeddings(vocab, dim, 5)
	h, e, err := Finetune(context.Background(), b, cfg, *emb, train, valid, opts)
	if err != nil {
		t.Fatal(err)
	}
	hist := h.Training.History
	if best := hist[h.Training.BestEpoch-1].Metric; best < 0.8 {
		t.Errorf("best validation accuracy %v", best)
	}
	if h.Training.Mode != "finetune" {
		t.Errorf("mode %q", h.Training.Mode)
	}
	// The table and the weights trained.
	if e.Table[0] == emb.Table[0] || e.Weights == nil || e.Weights[0] == 0.5 {
		t.Error("the embeddings did not change")
	}
	// Encode the validation rows with the returned model, run the head:
	// the accuracy is the best epoch's.
	correct := 0
	out := make([]float32, 2)
	var s Scratch
	for i, ids := range valid.IDs {
		h.Forward(out, encode(e, ids), &s)
		if (out[1] > out[0]) == (valid.Classes[i] == 1) {
			correct++
		}
	}
	if got, want := float64(correct)/100, float64(hist[h.Training.BestEpoch-1].Metric); math.Abs(got-want) > 1e-9 {
		t.Errorf("encoded with the saved tensors, accuracy %v; the graph's best epoch %v", got, want)
	}
	h2, e2, err := Finetune(context.Background(), b, cfg, *emb, train, valid, opts)
	if err != nil {
		t.Fatal(err)
	}
	w1, _, _ := h.Marshal()
	w2, _, _ := h2.Marshal()
	if string(w1) != string(w2) || !equalF32(e.Table, e2.Table) || !equalF32(e.Weights, e2.Weights) {
		t.Error("fine-tuning is not deterministic")
	}
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestFinetuneBadInput(t *testing.T) {
	b := goBackend(t)
	cfg := NewConfig(Classification, 4, 2)
	emb := RandomEmbeddings(10, 4, 1)
	good := TokenDataset{IDs: [][]int32{{1}, {2}, {3}}, Classes: []int{0, 1, 0}}
	badWeights := *emb
	badWeights.Weights = make([]float32, 10)
	for name, tc := range map[string]struct {
		cfg   Config
		emb   Embeddings
		train TokenDataset
		want  string
	}{
		"id range":  {cfg, *emb, TokenDataset{IDs: [][]int32{{1}, {2, 10}}, Classes: []int{0, 1}}, "row 1 token 1 has id 10, outside the vocabulary of 10"},
		"dim":       {NewConfig(Classification, 5, 2), *emb, good, "input dimension 5, embeddings have 4"},
		"weights":   {cfg, badWeights, good, "token 0 has weight 0"},
		"table":     {cfg, Embeddings{Vocab: 10, Dim: 4, Table: emb.Table[:8]}, good, "8 values for 10×4"},
		"empty":     {cfg, *emb, TokenDataset{}, "training set is empty"},
		"ranking":   {NewConfig(Ranking, 4, 1), *emb, good, "ranking heads train on pooled features"},
		"label out": {cfg, *emb, TokenDataset{IDs: good.IDs, Classes: []int{0, 1, 5}}, "training row 2 has class 5"},
	} {
		_, _, err := Finetune(context.Background(), b, tc.cfg, tc.emb, tc.train, TokenDataset{}, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, tc.want)
		}
	}
}

// TestFinetuneRegression fine-tunes a regressor (the share of "positive"
// tokens) selected by Spearman correlation.
func TestFinetuneRegression(t *testing.T) {
	const vocab, dim = 60, 8
	train, valid := tokenTask(300, vocab, 3), tokenTask(100, vocab, 4)
	train.Classes, valid.Classes = nil, nil
	cfg := NewConfig(Regression, dim, 1)
	cfg.Hidden = []int{16}
	emb := RandomEmbeddings(vocab, dim, 1)
	emb.Normalize = false
	h, e, err := Finetune(context.Background(), goBackend(t), cfg, *emb, train, valid, Options{
		MaxEpochs: 10, LearningRate: 0.01, Metric: Spearman, Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if e.Normalize || *h.Range != [2]float64{0, float64(slices.Max(train.Targets))} {
		t.Errorf("normalize %v, range %v", e.Normalize, *h.Range)
	}
	if rho := h.Training.History[h.Training.BestEpoch-1].Metric; rho < 0.7 {
		t.Errorf("best validation Spearman %v", rho)
	}
}
