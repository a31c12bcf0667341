package head

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkForward compares plain-Go and GoMLX (Go backend) inference of
// model2vec's default head (256 → 512 → 2) at several batch sizes; rows/s
// is the figure to compare.
//
//	go test -run '^$' -bench Forward -benchtime 2s ./models/head/
func BenchmarkForward(b *testing.B) {
	h := randomHead(NewConfig(Classification, 256, 2), 1)
	p, err := NewPredictor(goBackend(b), h)
	if err != nil {
		b.Fatal(err)
	}
	for _, rows := range []int{1, 16, 256, 1024} {
		x := randomRows(rows, 256, 2)
		dst := make([]float32, rows*2)
		b.Run(fmt.Sprintf("plain-go/rows=%d", rows), func(b *testing.B) {
			var s Scratch
			for b.Loop() {
				if _, err := h.Forward(dst, x, &s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
		b.Run(fmt.Sprintf("gomlx/rows=%d", rows), func(b *testing.B) {
			for b.Loop() {
				if _, err := p.Forward(dst, x); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkFinetuneEpoch times one fine-tuning epoch of a from-scratch
// table the size of bert-base-uncased's vocabulary (30,522 × 256) on 320
// rows of 100 to 500 random token ids, batch 32 (10 steps), with
// validation on 32 rows. Every step updates the whole table (Adam on
// dense gradients, as PyTorch's nn.Embedding without sparse gradients).
//
//	go test -run '^$' -bench FinetuneEpoch -benchtime 1x ./models/head/
func BenchmarkFinetuneEpoch(b *testing.B) {
	backend := goBackend(b)
	const vocab, dim = 30522, 256
	emb := RandomEmbeddings(vocab, dim, 1)
	r := rand.New(rand.NewPCG(1, 1))
	var train, valid TokenDataset
	for i := range 352 {
		ids := make([]int32, 100+r.IntN(401))
		for k := range ids {
			ids[k] = int32(r.IntN(vocab))
		}
		if i < 320 {
			train.IDs = append(train.IDs, ids)
			train.Classes = append(train.Classes, i%2)
		} else {
			valid.IDs = append(valid.IDs, ids)
			valid.Classes = append(valid.Classes, i%2)
		}
	}
	for b.Loop() {
		h, _, err := Finetune(context.Background(), backend, NewConfig(Classification, dim, 2), *emb, train, valid, Options{MaxEpochs: 1, BatchSize: 32})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(h.Training.History[0].RowsPerSecond, "rows/s")
	}
}
