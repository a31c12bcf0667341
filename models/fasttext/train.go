package fasttext

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Progress describes a training run in progress, as fastText's progress line
// shows it.
type Progress struct {
	// Fraction is the share of the planned tokens processed, in [0, 1].
	Fraction float64
	// WordsPerSecPerThread is the throughput per training thread.
	WordsPerSecPerThread float64
	// LR is the current learning rate.
	LR float64
	// Loss is the average loss of thread 0's examples so far.
	Loss float64
	// ETA is the estimated time left.
	ETA time.Duration
	// Elapsed is the time since training started.
	Elapsed time.Duration
	// Done is set on the final report.
	Done bool
	// Start is set on the first report, sent once the dictionary is built
	// and before training starts; Words, Labels and Tokens describe the
	// dictionary.
	Start         bool
	Words, Labels int
	Tokens        int64
}

// ProgressFunc receives progress reports during training: one when it
// starts, about ten per second, and one at the end. It is called from one
// goroutine at a time.
type ProgressFunc func(Progress)

// ProgressPrinter returns a ProgressFunc that rewrites one status line on w
// in fastText's format:
//
//	Progress: 42.0% words/sec/thread:  512345 lr:  0.058000 avg.loss:  0.312345 ETA:   0h 1m
func ProgressPrinter(w io.Writer) ProgressFunc {
	return func(p Progress) {
		if p.Start {
			fmt.Fprintf(w, "\rRead %dM words\nNumber of words:  %d\nNumber of labels: %d\n", p.Tokens/1000000, p.Words, p.Labels)
			return
		}
		eta := int64(p.ETA / time.Second)
		fmt.Fprintf(w, "\rProgress: %5.1f%% words/sec/thread: %7d lr: %9.6f avg.loss: %9.6f ETA: %3dh%2dm",
			100*p.Fraction, int64(p.WordsPerSecPerThread), p.LR, p.Loss, eta/3600, (eta%3600)/60)
		if p.Done {
			fmt.Fprintln(w)
		}
	}
}

// ErrDiverged is returned when training produces NaN (the learning rate is
// too high for the data).
var ErrDiverged = errors.New("training diverged (NaN loss); try a smaller learning rate")

// Train trains a supervised classifier on the fastText-format file input
// (lines of "__label__x ... text"), as `fasttext supervised` does: Hogwild
// SGD over args.Thread goroutines with a learning rate decaying linearly to
// zero. With args.Thread 1 the result is deterministic. progress may be nil.
func Train(ctx context.Context, input string, args Args, progress ProgressFunc) (*Model, error) {
	if err := args.Validate(); err != nil {
		return nil, fmt.Errorf("fastText arguments: %w", err)
	}
	size, err := statRegular(input)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(input)
	if err != nil {
		return nil, fmt.Errorf("open training data: %w", err)
	}
	m := &Model{args: args, version: fileVersion}
	m.dict = newDictionary(&m.args)
	err = m.dict.readFrom(f, int64(args.MinCount), int64(args.MinCountLabel))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("read training data %s: %w", input, err)
	}
	if m.dict.nlabels == 0 {
		return nil, fmt.Errorf("training data %s has no labels (no word starts with %q)", input, args.Label)
	}
	// The line cache and the dictionary's garbage are settled before the
	// input matrix is allocated: once it is live, the collector would wait
	// for the heap to double before reclaiming anything.
	inputBytes := 4 * (int64(m.dict.nwords) + int64(args.Bucket)) * int64(args.Dim)
	var cache *lineCache
	if args.Epoch >= minCachedEpochs {
		if cache, err = buildCacheFor(m.dict, input, inputBytes); err != nil {
			return nil, err
		}
	}
	debug.FreeOSMemory()
	if args.PretrainedVectors != "" {
		if err := m.initFromPretrained(args.PretrainedVectors); err != nil {
			return nil, err
		}
		cache = nil // the dictionary changed
	} else {
		m.input = newDenseMatrix(int64(m.dict.nwords)+int64(args.Bucket), int64(args.Dim))
		adviseHugePages(m.input.data)
		uniformInit(m.input.data, float32(1.0/float64(args.Dim)), args.Thread, args.Seed)
	}
	m.output = newDenseMatrix(int64(m.dict.nlabels), int64(args.Dim))
	m.buildLoss()
	t := &trainer{m: m, args: &m.args, input: input, size: size, progress: progress, cache: cache, noCache: cache == nil}
	if err := t.run(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// minCachedEpochs is the number of epochs from which the training lines are
// cached in memory: below it, re-reading the file costs little and the
// memory is better left free.
const minCachedEpochs = 5

// buildCacheFor builds the line cache of input when it fits the budget for
// an input matrix of inputBytes (nil otherwise).
func buildCacheFor(d *dictionary, input string, inputBytes int64) (*lineCache, error) {
	budget := lineCacheBudget(d, inputBytes)
	if budget == 0 {
		return nil, nil
	}
	return buildLineCache(d, input, budget)
}

// statRegular returns the size of the training file path, which must be a
// regular file: each training thread reads it from its own offset.
func statRegular(path string) (int64, error) {
	info, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("training data: %w", err)
	}
	if !info.Mode().IsRegular() {
		return 0, fmt.Errorf("training data %s is not a regular file (fastText reads it once per thread from several offsets)", path)
	}
	return info.Size(), nil
}

// uniformInit fills data as DenseMatrix::uniform does: the matrix is cut in
// ten blocks and block b (for b < threads) gets values uniform in [-a, a]
// from a generator seeded with b+seed. With fewer than ten threads the
// remaining blocks stay zero, exactly as in the C++ tool; the untouched
// memory is never written, so it costs nothing until training reaches it.
func uniformInit(data []float32, a float32, threads, seed int) {
	n := int64(len(data))
	block := n / 10
	var wg sync.WaitGroup
	for b := 0; b < threads; b++ {
		lo, hi := block*int64(b), min(n, block*int64(b+1))
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := newMinstd(int64(b + seed))
			lo64, hi64 := float64(-a), float64(a)
			for i := lo; i < hi; i++ {
				data[i] = float32(rng.uniformReal(lo64, hi64))
			}
		}()
	}
	wg.Wait()
}

// trainKernels are the vector kernels of one training run that differ
// between exact and fast arithmetic.
type trainKernels struct {
	dot       func(a, b []float32) float32
	rowUpdate func(alpha float32, w, grad, hidden []float32)
}

// trainer runs the Hogwild threads of one training run.
type trainer struct {
	m        *Model
	args     *Args
	input    string
	size     int64
	progress ProgressFunc
	k        trainKernels
	// out is the output matrix with its rows padded with zeros to a
	// multiple of 16 values, the layout of the vectorised row kernels
	// (the model's own matrix when dim is such a multiple already);
	// hidden and gradient vectors have the padded length too.
	out *denseMatrix

	negatives []int32
	negRange  uint64
	cache     *lineCache // nil: every thread reads the file
	noCache   bool       // do not build a cache (one was not wanted or did not fit)

	tokenCount atomic.Int64
	loss0      atomic.Uint32 // float32 bits of thread 0's average loss
	diverged   atomic.Bool
	start      time.Time
}

func (t *trainer) run(parent context.Context) error {
	a := t.args
	if a.Exact {
		t.k = trainKernels{dot: dotSeq, rowUpdate: rowUpdateGeneric}
	} else {
		t.k = trainKernels{dot: kernels.dot, rowUpdate: kernels.rowUpdate}
	}
	t.out = t.m.output.withPaddedRows()
	defer t.m.output.copyPaddedRows(t.out)
	if a.Loss == LossNS {
		t.negatives = buildNegatives(t.m.dict.counts(typeLabel))
		t.negRange = uint64(len(t.negatives) - 1)
	}
	if t.cache == nil && !t.noCache && a.Epoch >= minCachedEpochs {
		c, err := buildCacheFor(t.m.dict, t.input, 4*int64(len(t.m.input.data)))
		if err != nil {
			return err
		}
		t.cache = c
	}
	t.loss0.Store(math.Float32bits(-1))
	if t.progress != nil {
		d := t.m.dict
		t.progress(Progress{Start: true, Words: int(d.nwords), Labels: int(d.nlabels), Tokens: d.ntokens, LR: a.LR})
	}
	t.start = time.Now()
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	errs := make([]error, a.Thread)
	var wg sync.WaitGroup
	for i := 0; i < a.Thread; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := t.worker(ctx, i); err != nil {
				errs[i] = err
				cancel()
			}
		}()
	}
	done := make(chan struct{})
	var reporter sync.WaitGroup
	if t.progress != nil {
		reporter.Add(1)
		go func() {
			defer reporter.Done()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					if l := math.Float32frombits(t.loss0.Load()); l >= 0 {
						t.progress(t.report(false))
					}
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	reporter.Wait()
	if t.diverged.Load() {
		return ErrDiverged
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if err := parent.Err(); err != nil {
		return fmt.Errorf("training stopped: %w", err)
	}
	if t.progress != nil {
		t.progress(t.report(true))
	}
	return nil
}

func (t *trainer) total() int64 { return int64(t.args.Epoch) * t.m.dict.ntokens }

func (t *trainer) report(done bool) Progress {
	elapsed := time.Since(t.start)
	frac := float64(t.tokenCount.Load()) / float64(t.total())
	if done {
		frac = 1
	}
	frac = min(frac, 1)
	p := Progress{Fraction: frac, LR: t.args.LR * (1 - frac), Elapsed: elapsed, Done: done,
		Loss: float64(math.Float32frombits(t.loss0.Load())), ETA: 720 * time.Hour}
	if sec := elapsed.Seconds(); frac > 0 && sec > 0 {
		p.WordsPerSecPerThread = float64(t.tokenCount.Load()) / sec / float64(t.args.Thread)
		p.ETA = time.Duration(sec * (1 - frac) / frac * float64(time.Second))
	}
	return p
}

// trainState is one thread's scratch space (Model::State).
type trainState struct {
	hidden, grad, output []float32
	rng                  minstd
	lossSum              float32
	nexamples            int64
	// out is the output matrix this thread trains (padded rows): the
	// shared one, or its replica (see replica).
	out     []float32
	replica *outputReplica
}

// outputReplica is one thread's copy of the output matrix, for losses
// that update every output row on every example (softmax, one-vs-all).
// Hogwild relies on sparse updates: with dense ones, threads writing the
// same rows on every example pass the matrix's cache lines between cores
// on every example, which made two threads five times slower than one.
// A thread trains its replica and, every replicaSyncExamples examples,
// adds what it changed since the last merge to the shared matrix (without
// a lock, as Hogwild writes) and takes the merged values back: the
// threads exchange their updates once per merge instead of once per
// example, as in local SGD.
type outputReplica struct {
	// base is the shared matrix's values at the last merge.
	base []float32
	// since counts the examples trained since the last merge.
	since int
}

// replicaSyncExamples is how many examples a thread trains between merges
// of its output replica. On the cooking tutorial (733 labels, two
// threads) merging every example was 2.5 times slower than every 32,
// every 8 1.5 times, and P@1 over four runs was the same for 16 and 32
// (0.509 on average, the C++ tool's 0.510).
const replicaSyncExamples = 32

// newReplica returns a replica of shared.
func newReplica(shared []float32) (local []float32, r *outputReplica) {
	return slices.Clone(shared), &outputReplica{base: slices.Clone(shared)}
}

// merge adds local's changes since the last merge to shared and sets
// local and base to the result.
func (r *outputReplica) merge(local, shared []float32) {
	base := r.base[:len(local)]
	shared = shared[:len(local)]
	for i := range local {
		v := shared[i] + (local[i] - base[i])
		shared[i] = v
		local[i] = v
		base[i] = v
	}
	r.since = 0
}

func (s *trainState) avgLoss() float32 { return s.lossSum / float32(s.nexamples) }

// worker is one Hogwild thread. All threads read and write the model's
// matrices without synchronisation, as the C++ tool does: updates from
// different threads may interleave or overwrite one another, which SGD
// tolerates. This is an intentional data race on float32 values only.
func (t *trainer) worker(ctx context.Context, id int) error {
	a := t.args
	st := &trainState{
		hidden: make([]float32, t.out.n),
		grad:   make([]float32, t.out.n),
		output: make([]float32, t.m.dict.nlabels),
		rng:    newMinstd(int64(id + a.Seed)),
		out:    t.out.data,
	}
	if a.Thread > 1 && !a.Exact && (a.Loss == LossSoftmax || a.Loss == LossOVA) {
		st.out, st.replica = newReplica(t.out.data)
		// The last merge leaves every thread's updates in the shared matrix.
		defer func() { st.replica.merge(st.out, t.out.data) }()
	}
	src, err := newLineSource(t.m.dict, t.cache, t.input, int64(id)*t.size/int64(a.Thread))
	if err != nil {
		return err
	}
	defer src.close()
	total := t.total()
	var local int64
	// Each line is read one ahead, and the first input rows of the next
	// line are fetched into the cache while this one is worked on.
	nextIDs, nextLabels, nextNtok, err := src.read()
	if err != nil {
		return err
	}
	for iter := 0; ; iter++ {
		count := t.tokenCount.Load()
		if count >= total {
			break
		}
		if iter&1023 == 0 && ctx.Err() != nil {
			return nil
		}
		progress := float32(count) / float32(total)
		lr := float32(a.LR * (1.0 - float64(progress)))
		ids, labels, ntok := nextIDs, nextLabels, nextNtok
		if nextIDs, nextLabels, nextNtok, err = src.read(); err != nil {
			return err
		}
		t.m.input.prefetchRows(nextIDs)
		local += int64(ntok)
		if len(labels) > 0 && len(ids) > 0 {
			if a.Loss == LossOVA {
				t.update(st, ids, labels, -1, lr)
			} else {
				i := int(st.rng.uniformInt(0, uint64(len(labels)-1)))
				t.update(st, ids, labels, i, lr)
			}
			if st.nexamples&255 == 0 && math.IsNaN(float64(st.lossSum)) {
				t.diverged.Store(true)
				t.tokenCount.Add(total)
				return nil
			}
		}
		if local > int64(a.LRUpdateRate) {
			t.tokenCount.Add(local)
			local = 0
			if id == 0 {
				t.loss0.Store(math.Float32bits(st.avgLoss()))
			}
		}
	}
	if id == 0 && st.nexamples > 0 {
		t.loss0.Store(math.Float32bits(st.avgLoss()))
	}
	return nil
}

// update is one SGD step on one example (Model::update).
func (t *trainer) update(st *trainState, ids, targets []int32, targetIndex int, lr float32) {
	m := t.m
	zero(st.hidden)
	m.input.addRowsTo(st.hidden, ids)
	scale(float32(1.0/float64(len(ids))), st.hidden)
	zero(st.grad)
	var loss float32
	switch t.args.Loss {
	case LossSoftmax:
		loss = t.softmaxForward(st, targets[targetIndex], lr)
	case LossNS:
		target := targets[targetIndex]
		loss = t.binaryLogistic(st, target, true, lr)
		for n := 0; n < t.args.Neg; n++ {
			neg := target
			for neg == target {
				neg = t.negatives[st.rng.uniformInt(0, t.negRange)]
			}
			loss += t.binaryLogistic(st, neg, false, lr)
		}
	case LossHS:
		target := targets[targetIndex]
		path, code := m.hs.paths[target], m.hs.codes[target]
		for i, node := range path {
			loss += t.binaryLogistic(st, node, code[i], lr)
		}
	case LossOVA:
		for i := int32(0); i < m.dict.nlabels; i++ {
			loss += t.binaryLogistic(st, i, containsInt32(targets, i), lr)
		}
	}
	st.lossSum += loss
	st.nexamples++
	if r := st.replica; r != nil {
		if r.since++; r.since == replicaSyncExamples {
			r.merge(st.out, t.out.data)
		}
	}
	scale(float32(1.0/float64(len(ids))), st.grad)
	m.input.addToRows(st.grad, ids)
}

// outRow returns output row i as the kernels take it: padded, or of dim
// values for exact arithmetic (whose sums must not see the padding).
func (t *trainer) outRow(st *trainState, i int32) []float32 {
	n := t.out.n
	r := st.out[int64(i)*n : (int64(i)+1)*n]
	if t.args.Exact {
		return r[:t.args.Dim]
	}
	return r
}

func (t *trainer) softmaxForward(st *trainState, target int32, lr float32) float32 {
	if t.args.Exact {
		return t.softmaxExact(st, target, lr)
	}
	// Scores, then exp(score - max) and their sum z, then each row's
	// alpha = lr*(label - p) = -lr/z*exp(...) (+ lr for the target).
	out := st.output
	dotRows(st.out, st.hidden, out)
	z := kernels.expShiftSum(out)
	p := out[target] / z
	scale(-lr/z, out)
	out[target] += lr
	rowsUpdate(st.out, out, st.hidden, st.grad)
	return -tableLog(p)
}

// softmaxExact is softmaxForward in the C++ tool's arithmetic.
func (t *trainer) softmaxExact(st *trainState, target int32, lr float32) float32 {
	for i := range st.output {
		st.output[i] = dotSeq(t.outRow(st, int32(i)), st.hidden)
	}
	softmaxInPlace(st.output)
	for i, p := range st.output {
		var label float32
		if int32(i) == target {
			label = 1
		}
		rowUpdateGeneric(lr*(label-p), t.outRow(st, int32(i)), st.grad, st.hidden)
	}
	return -tableLog(st.output[target])
}

func (t *trainer) binaryLogistic(st *trainState, target int32, positive bool, lr float32) float32 {
	row := t.outRow(st, target)
	score := sigmoid(t.k.dot(row, st.hidden))
	var label float32
	if positive {
		label = 1
	}
	t.k.rowUpdate(lr*(label-score), row, st.grad, st.hidden)
	if positive {
		return -tableLog(score)
	}
	return -tableLog(float32(1.0 - float64(score)))
}

func containsInt32(v []int32, x int32) bool {
	for _, y := range v {
		if y == x {
			return true
		}
	}
	return false
}
