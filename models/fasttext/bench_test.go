package fasttext

import (
	"bufio"
	"os"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

// The prediction benchmarks read one document per line from the file named
// by FASTTEXT_BENCH_TEXT (bench/fasttext/prepare writes web.txt) and the
// model named by FASTTEXT_BENCH_MODEL (default: lid.176.ftz from the shared
// data). See bench/fasttext/RESULTS.md.

func benchInputs(b *testing.B) (*Model, []string, int64) {
	b.Helper()
	path := os.Getenv("FASTTEXT_BENCH_TEXT")
	if path == "" {
		b.Skip("set FASTTEXT_BENCH_TEXT to a file of one document per line")
	}
	model := os.Getenv("FASTTEXT_BENCH_MODEL")
	if model == "" {
		model = testutil.SharedData(b, "fasttext/lid.176.ftz")
	}
	m, err := Load(model)
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var lines []string
	var n int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		n += int64(len(sc.Bytes())) + 1
	}
	return m, lines, n
}

// BenchmarkPredict measures one goroutine predicting the top label of
// every document.
func BenchmarkPredict(b *testing.B) {
	m, lines, n := benchInputs(b)
	p := m.NewPredictor()
	var dst []Prediction
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			dst = p.AppendPredict(dst[:0], l, 1, 0)
		}
	}
}

// BenchmarkPredictParallel measures GOMAXPROCS goroutines sharing one
// model, each with its own Predictor.
func BenchmarkPredictParallel(b *testing.B) {
	m, lines, _ := benchInputs(b)
	var avg int64
	for _, l := range lines {
		avg += int64(len(l)) + 1
	}
	b.SetBytes(avg / int64(len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		p := m.NewPredictor()
		var dst []Prediction
		i := 0
		for pb.Next() {
			dst = p.AppendPredict(dst[:0], lines[i%len(lines)], 1, 0)
			i++
		}
	})
}
