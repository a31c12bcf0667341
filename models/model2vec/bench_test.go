package model2vec

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/transforms/shardio"
)

// benchTexts returns the texts of the bundled FineWeb-Edu sample
// (1,000 real documents).
func benchTexts(b *testing.B) ([]string, int64) {
	b.Helper()
	r, err := shardio.Open(context.Background(), testutil.RepoRoot(b)+"/data/fineweb-edu-llama3-sample/train.jsonl.zst")
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var texts []string
	var n int64
	for {
		line, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		var row struct{ Text string }
		if err := json.Unmarshal(line, &row); err != nil {
			b.Fatal(err)
		}
		texts = append(texts, row.Text)
		n += int64(len(row.Text))
	}
	return texts, n
}

// benchModels returns the models the benchmarks encode with: the two
// fixture tokenizers (BERT WordPiece, dimension 2; Model2Vec's Unigram
// pipeline, 128 rows of dimension 64 with weights) and bert-base-uncased's
// tokenizer with a random 30,522×256 table, the size of a potion model.
func benchModels(b *testing.B) map[string]*Model {
	b.Helper()
	models := map[string]*Model{
		"fixture-float32":         load(b, "test-model-float32"),
		"fixture-vocab-quantized": load(b, "test-model-vocab-quantized"),
	}
	tok := testutil.SharedData(b, "tokenizers/bert-base-uncased/tokenizer.json")
	const vocab, dim = 30522, 256
	rng := rand.New(rand.NewPCG(1, 2))
	table := make([]float32, vocab*dim)
	for i := range table {
		table[i] = float32(rng.NormFloat64())
	}
	m, err := New(tok, table, dim, nil, true)
	if err != nil {
		b.Fatal(err)
	}
	models["bert-base-uncased-30522x256"] = m
	return models
}

// measure runs loop (one pass over size bytes of text per call) as the
// benchmark and reports, besides wall-time MB/s, MB of text per CPU-second
// of the process ("MB/cpu-s"): on a machine shared with other work, the
// figure per core that wall time understates.
func measure(b *testing.B, size int64, loop func()) {
	b.SetBytes(size)
	b.ReportAllocs()
	cpu0, ok := processCPU()
	for b.Loop() {
		loop()
	}
	if cpu1, ok1 := processCPU(); ok && ok1 && cpu1 > cpu0 {
		b.ReportMetric(float64(size)*float64(b.N)/(cpu1-cpu0).Seconds()/1e6, "MB/cpu-s")
	}
}

// BenchmarkEncode encodes every text of the sample on one goroutine.
func BenchmarkEncode(b *testing.B) {
	texts, size := benchTexts(b)
	for name, m := range benchModels(b) {
		b.Run(name, func(b *testing.B) {
			v := make([]float32, m.Dim())
			measure(b, size, func() {
				for _, t := range texts {
					m.Encode(v, t)
				}
			})
		})
	}
}

// BenchmarkTokenize is BenchmarkEncode's tokenization alone.
func BenchmarkTokenize(b *testing.B) {
	texts, size := benchTexts(b)
	for name, m := range benchModels(b) {
		b.Run(name, func(b *testing.B) {
			var ids []int32
			measure(b, size, func() {
				for _, t := range texts {
					ids = m.Tokenize(ids[:0], t)
				}
			})
		})
	}
}

// BenchmarkEncodeBatch encodes the sample with EncodeBatch on every core
// (MB/cpu-s is then per core).
func BenchmarkEncodeBatch(b *testing.B) {
	texts, size := benchTexts(b)
	m := benchModels(b)["bert-base-uncased-30522x256"]
	out := make([]float32, len(texts)*m.Dim())
	measure(b, size, func() { m.EncodeBatch(texts, out) })
}
