package fasttext

import (
	"bufio"
	"os"
	"runtime"
	"testing"
	"time"

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
	cpu := startThreadCPU(b)
	for b.Loop() {
		for _, l := range lines {
			dst = p.AppendPredict(dst[:0], l, 1, 0)
		}
	}
	cpu.reportRate(b, n)
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

// benchTrainer returns a trainer over a synthetic model of nlabels labels
// (Zipf-distributed counts, as in real label sets), rows input rows of dim
// values, and example lines of 20 random input rows each.
func benchTrainer(loss Loss, dim, nlabels, rows int) (*trainer, *trainState, [][]int32) {
	a := DefaultArgs()
	a.Dim, a.Loss, a.Thread, a.Bucket = dim, loss, 1, rows
	m := &Model{args: a, version: fileVersion}
	m.dict = newDictionary(&m.args)
	for i := range nlabels {
		m.dict.words = append(m.dict.words, entry{word: "__label__" + string(rune('a'+i%26)), count: int64(1 + 100000/(i+1)), typ: typeLabel})
	}
	m.dict.nlabels = int32(nlabels)
	m.input = newDenseMatrix(int64(rows), int64(dim))
	uniformInit(m.input.data, 1/float32(dim), 10, 0)
	m.output = newDenseMatrix(int64(nlabels), int64(dim))
	m.buildLoss()
	t := &trainer{m: m, args: &m.args}
	t.k = trainKernels{dot: kernels.dot, rowUpdate: kernels.rowUpdate}
	t.out = m.output.withPaddedRows()
	if loss == LossNS {
		t.negatives = buildNegatives(m.dict.counts(typeLabel))
		t.negRange = uint64(len(t.negatives) - 1)
	}
	st := &trainState{hidden: make([]float32, t.out.n), grad: make([]float32, t.out.n), output: make([]float32, nlabels), rng: newMinstd(1)}
	lines := make([][]int32, 4096)
	rng := newMinstd(7)
	for i := range lines {
		for range 20 {
			lines[i] = append(lines[i], int32(rng.uniformInt(0, uint64(rows-1))))
		}
	}
	return t, st, lines
}

// BenchmarkTrainUpdate measures one SGD step (Model::update) per
// iteration, with the next line's rows prefetched as the training loop
// does: the cooking tutorial's shape (733 labels, dim 100, an input matrix
// of 2M buckets) for each loss, and bonepick's (2 labels, dim 256).
func BenchmarkTrainUpdate(b *testing.B) {
	for _, c := range []struct {
		name              string
		loss              Loss
		dim, nlabels, neg int
		rows              int
	}{
		{"softmax-733x100", LossSoftmax, 100, 733, 0, 2 << 20},
		{"hs-733x100", LossHS, 100, 733, 0, 2 << 20},
		{"ns-733x100", LossNS, 100, 733, 5, 2 << 20},
		{"softmax-2x256", LossSoftmax, 256, 2, 0, 1 << 20},
	} {
		t, st, lines := benchTrainer(c.loss, c.dim, c.nlabels, c.rows)
		if c.neg > 0 {
			t.args.Neg = c.neg
		}
		b.Run(c.name, func(b *testing.B) {
			labels := []int32{0}
			i := 0
			cpu := startThreadCPU(b)
			for b.Loop() {
				labels[0] = int32(i * 7919 % c.nlabels)
				t.m.input.prefetchRows(lines[(i+1)%len(lines)])
				t.update(st, lines[i%len(lines)], labels, 0, 0.05)
				i++
			}
			cpu.report(b)
		})
	}
}

// threadCPU measures the CPU time of a benchmark's OS thread (Linux only).
type threadCPU struct{ start time.Duration }

// startThreadCPU locks the goroutine to its thread and starts measuring.
func startThreadCPU(b *testing.B) threadCPU {
	runtime.LockOSThread()
	b.Cleanup(runtime.UnlockOSThread)
	start, _ := threadTime()
	return threadCPU{start: start}
}

// reportRate adds the bytes processed per CPU second (n per iteration) as
// the metric MB/cpu-s.
func (c threadCPU) reportRate(b *testing.B, n int64) {
	if now, ok := threadTime(); ok {
		b.ReportMetric(float64(n)*float64(b.N)/1e6/(now-c.start).Seconds(), "MB/cpu-s")
	}
}

// report adds the CPU time per iteration as the metric cpu-ns/op.
func (c threadCPU) report(b *testing.B) {
	if now, ok := threadTime(); ok {
		b.ReportMetric(float64(now-c.start)/float64(b.N), "cpu-ns/op")
	}
}
