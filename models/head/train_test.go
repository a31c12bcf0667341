package head

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestPlateauScripted follows ReduceLROnPlateau(factor 0.5, patience 3,
// threshold 0.03 rel, min 1e-6) on a scripted loss sequence.
func TestPlateauScripted(t *testing.T) {
	p := newPlateau(0.5, 0.03, 1e-6, 3)
	lr := 1e-3
	// 1.0 best; 0.98 is not 3% better; three bad epochs wait, the fourth
	// halves; 0.5 improves; then four bad halve again.
	losses := []float64{1.0, 0.98, 0.99, 0.975, 0.971, 0.5, 0.6, 0.6, 0.6, 0.6, 0.49}
	want := []float64{1e-3, 1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 5e-4, 5e-4, 5e-4, 2.5e-4, 2.5e-4}
	for i, l := range losses {
		lr = p.step(l, lr)
		if math.Abs(lr-want[i]) > 1e-15 {
			t.Fatalf("after loss %d (%v): lr %v, want %v", i, l, lr, want[i])
		}
	}
	// The floor.
	lr = 3e-6
	for range 20 {
		lr = p.step(1, lr)
	}
	if lr != 1e-6 {
		t.Errorf("lr fell to %v, floor is 1e-6", lr)
	}
}

// TestMonitorScripted follows Lightning's EarlyStopping(patience 5,
// min_delta 0.001, mode max).
func TestMonitorScripted(t *testing.T) {
	m := newMonitor(true, 0.001)
	vals := []float64{0.5, 0.6, 0.6005, math.NaN(), 0.59, 0.6015, 0.602, 0.6026}
	best := []bool{true, true, false, false, false, true, false, true}
	waits := []int{0, 0, 1, 2, 3, 0, 1, 0}
	for i, v := range vals {
		if got := m.update(v); got != best[i] || m.wait != waits[i] {
			t.Fatalf("value %d (%v): best %v wait %d, want %v %d", i, v, got, m.wait, best[i], waits[i])
		}
	}
	low := newMonitor(false, 0)
	for i, v := range []float64{1, 0.9, 0.9, 0.95} {
		if got := low.update(v); got != (i < 2) {
			t.Errorf("loss %d (%v): best %v", i, v, got)
		}
	}
}

// TestClassWeights checks bonepick's formulas: balanced N/(K·nᶜ) and its
// square root, normalised to sum 1.
func TestClassWeights(t *testing.T) {
	classes := []int{0, 0, 0, 0, 0, 0, 1, 1, 2} // counts 6, 2, 1; N 9, K 3
	bal, err := classWeights(Balanced, classes, 3)
	if err != nil {
		t.Fatal(err)
	}
	raw := []float64{9.0 / 18, 9.0 / 6, 9.0 / 3}
	sum := raw[0] + raw[1] + raw[2]
	for c := range raw {
		if math.Abs(bal[c]-raw[c]/sum) > 1e-15 {
			t.Errorf("balanced %v, want %v", bal, raw)
		}
	}
	sq, _ := classWeights(Sqrt, classes, 3)
	sum = math.Sqrt(raw[0]) + math.Sqrt(raw[1]) + math.Sqrt(raw[2])
	for c := range raw {
		if math.Abs(sq[c]-math.Sqrt(raw[c])/sum) > 1e-15 {
			t.Errorf("sqrt %v", sq)
		}
	}
	uni, _ := classWeights(Uniform, classes, 4)
	if !slices.Equal(uni, []float64{1, 1, 1, 1}) {
		t.Errorf("uniform %v", uni)
	}
	if _, err := classWeights(Balanced, classes, 4); err == nil {
		t.Error("balanced weights of a class without rows accepted")
	}
}

func TestBatchSizeRule(t *testing.T) {
	for n, want := range map[int]int{10: 32, 959: 32, 1920: 64, 9600: 320, 15359: 480, 1_000_000: 512} {
		if got := defaultBatchSize(n); got != want {
			t.Errorf("batch size for %d rows = %d, want %d", n, got, want)
		}
	}
}

func TestCarveStratified(t *testing.T) {
	classes := make([]int, 0, 200)
	for i := range 200 {
		c := 0
		if i%10 == 0 {
			c = 1 // 20 rows
		}
		if i%50 == 1 {
			c = 2 // 4 rows
		}
		classes = append(classes, c)
	}
	tr, va := carve(len(classes), classes, 3, 0.1)
	if len(va) != 20 || len(tr) != 180 {
		t.Fatalf("carved %d/%d, want 20 validation rows", len(va), len(tr))
	}
	count := map[int]int{}
	for _, i := range va {
		count[classes[i]]++
	}
	// 20·176/200 = 17.6, 20·20/200 = 2, 20·4/200 = 0.4: quotas 17, 2, 0
	// and the remaining row to the largest remainder (class 0).
	if count[0] != 18 || count[1] != 2 || count[2] != 0 {
		t.Errorf("validation classes %v", count)
	}
	tr2, va2 := carve(len(classes), classes, 3, 0.1)
	if !slices.Equal(va, va2) || !slices.Equal(tr, tr2) {
		t.Error("the split is not deterministic")
	}
	// A class with one row disables stratification (still 10%).
	classes[5] = 3
	if _, va := carve(len(classes), classes, 4, 0.1); len(va) != 20 {
		t.Errorf("unstratified split gave %d rows", len(va))
	}
}

// blobsDataset makes a classification set whose class depends on the sign
// of two features.
func blobsDataset(n, d int, seed uint64) Dataset {
	r := rand.New(rand.NewPCG(seed, 5))
	var ds Dataset
	for range n {
		row := make([]float32, d)
		for j := range row {
			row[j] = float32(r.NormFloat64())
		}
		c := 0
		if row[0]+0.5*row[1] > 0 {
			c = 1
		}
		ds.X = append(ds.X, row...)
		ds.Classes = append(ds.Classes, c)
	}
	return ds
}

func TestTrainDeterministic(t *testing.T) {
	b := goBackend(t)
	cfg := NewConfig(Classification, 16, 2)
	cfg.Hidden = []int{32}
	train := blobsDataset(400, 16, 1)
	opts := Options{MaxEpochs: 4, Seed: 3, BatchSize: 64}
	a, err := Train(context.Background(), b, cfg, train, Dataset{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Train(context.Background(), b, cfg, train, Dataset{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	wa, _, _ := a.Marshal()
	wb, _, _ := again.Marshal()
	if string(wa) != string(wb) {
		t.Error("two runs with the same seed gave different weights")
	}
	opts.Seed = 4
	other, err := Train(context.Background(), b, cfg, train, Dataset{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if wo, _, _ := other.Marshal(); string(wo) == string(wa) {
		t.Error("another seed gave the same weights")
	}
	if a.Training.ValidRows != 40 || !a.Training.ValidCarved || a.Training.TrainRows != 360 {
		t.Errorf("record %+v", a.Training)
	}
}

// TestTrainStopsAndRestoresBest: early stopping ends training and the head
// returned is the best epoch's.
func TestTrainStopsAndRestoresBest(t *testing.T) {
	b := goBackend(t)
	cfg := NewConfig(Classification, 8, 2)
	cfg.Hidden = []int{16}
	train, valid := blobsDataset(300, 8, 1), blobsDataset(100, 8, 2)
	var seen []Epoch
	h, err := Train(context.Background(), b, cfg, train, valid, Options{
		Patience: 2, Seed: 1, MaxEpochs: 200, LearningRate: 0.05,
		Progress: func(e Epoch) { seen = append(seen, e) },
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := h.Training
	if rec.Stopped != "early stopping" || len(seen) != len(rec.History) || len(seen) >= 200 {
		t.Fatalf("stopped %q after %d epochs", rec.Stopped, len(seen))
	}
	// The last two epochs did not improve, and the best is the last
	// improving one.
	n := len(seen)
	if seen[n-1].Best || seen[n-2].Best || rec.BestEpoch != n-2 || !seen[n-3].Best {
		t.Errorf("best epoch %d of %d: %+v", rec.BestEpoch, n, seen)
	}
	// The returned head scores the validation set as the best epoch did.
	out, err := h.Forward(make([]float32, 200), valid.X, &Scratch{})
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	for i, c := range valid.Classes {
		if (out[2*i+1] > out[2*i]) == (c == 1) {
			correct++
		}
	}
	if got, want := float64(correct)/100, float64(seen[rec.BestEpoch-1].Metric); math.Abs(got-want) > 1e-9 {
		t.Errorf("returned head has accuracy %v, best epoch had %v", got, want)
	}
	if len(h.Labels) != 2 || h.Labels[1] != "1" {
		t.Errorf("labels %v", h.Labels)
	}
}

func TestTrainCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	epochs := 0
	_, err := Train(ctx, goBackend(t), NewConfig(Classification, 8, 2), blobsDataset(200, 8, 1), Dataset{}, Options{
		MaxEpochs: 50, Progress: func(Epoch) { epochs++; cancel() },
	})
	if !errors.Is(err, context.Canceled) || epochs != 1 {
		t.Errorf("after cancelling: %v, %d epochs", err, epochs)
	}
}

func TestTrainBadInput(t *testing.T) {
	b := goBackend(t)
	cfg := NewConfig(Classification, 4, 2)
	good := blobsDataset(50, 4, 1)
	nan := blobsDataset(50, 4, 1)
	nan.X[13] = float32(math.NaN())
	outOfRange := blobsDataset(50, 4, 1)
	outOfRange.Classes[7] = 2
	for name, tc := range map[string]struct {
		cfg          Config
		train, valid Dataset
		opts         Options
		want         string
	}{
		"empty train":     {cfg, Dataset{}, Dataset{}, Options{}, "training set is empty"},
		"dim mismatch":    {cfg, Dataset{X: good.X[:10], Classes: good.Classes[:2]}, Dataset{}, Options{}, "not rows of the input dimension 4"},
		"NaN feature":     {cfg, nan, Dataset{}, Options{}, "row 3 has feature 1 = NaN"},
		"label range":     {cfg, outOfRange, Dataset{}, Options{}, "training row 7 has class 2, outside [0, 2)"},
		"label count":     {cfg, Dataset{X: good.X, Classes: good.Classes[:3]}, Dataset{}, Options{}, "50 rows but 3 classes"},
		"valid bad":       {cfg, good, Dataset{X: good.X[:8]}, Options{}, "validation set has 2 rows but 0 classes"},
		"NaN target":      {NewConfig(Regression, 4, 0), Dataset{X: good.X[:8], Targets: []float32{1, float32(math.Inf(1))}}, Dataset{}, Options{}, "training row 1 has target +Inf"},
		"config":          {Config{InputDim: 4, Outputs: 2, Task: "sorting", Activation: ReLU}, good, Dataset{}, Options{}, `unknown task "sorting"`},
		"unbounded":       {cfg, good, Dataset{}, Options{Patience: -1}, "max epochs is unbounded"},
		"metric for task": {cfg, good, Dataset{}, Options{Metric: Spearman}, "spearman needs a regressor"},
		"weighting":       {cfg, good, Dataset{}, Options{ClassWeight: "inverse"}, `unknown class weighting "inverse"`},
		"labels":          {cfg, good, Dataset{}, Options{Labels: []string{"a"}}, "1 labels for 2 outputs"},
		"init shape":      {cfg, good, Dataset{}, Options{Init: []*Layer{{In: 3, Out: 512}}}, "initial layer 0 is 3→512"},
	} {
		_, err := Train(context.Background(), b, tc.cfg, tc.train, tc.valid, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, tc.want)
		}
	}
}

// TestTrainInitFromMatrices starts a tanh head's hidden layer from given
// weights (as from a BERT pooler) and trains a regressor with a fixed epoch
// count, selecting by rounded macro-F1 (the FineWeb-Edu recipe's shape).
func TestTrainInitFromMatrices(t *testing.T) {
	b := goBackend(t)
	cfg := Config{InputDim: 6, Hidden: []int{6}, Activation: Tanh, Outputs: 1, Task: Regression}
	pooler := &Layer{In: 6, Out: 6, W: make([]float32, 36), B: make([]float32, 6)}
	for i := range 6 {
		pooler.W[i*6+i] = 1 // identity
	}
	r := rand.New(rand.NewPCG(1, 1))
	var ds Dataset
	for range 300 {
		row := make([]float32, 6)
		for j := range row {
			row[j] = float32(r.NormFloat64() * 0.5)
		}
		ds.X = append(ds.X, row...)
		ds.Targets = append(ds.Targets, float32(math.Round(min(max(2.5+3*float64(row[0]), 0), 5))))
	}
	var epochs int
	h, err := Train(context.Background(), b, cfg, ds, Dataset{}, Options{
		Init: []*Layer{pooler}, Patience: -1, MaxEpochs: 3, Metric: MacroF1, LearningRate: 3e-4,
		Range: &[2]float64{0, 5}, Progress: func(e Epoch) { epochs++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if epochs != 3 || h.Training.Stopped != "max epochs" || *h.Range != [2]float64{0, 5} {
		t.Errorf("%d epochs, record %+v", epochs, h.Training)
	}
	// Three small steps from the identity: the hidden layer stays near it.
	w := h.Layers[0].W
	if math.Abs(float64(w[0])-1) > 0.05 || math.Abs(float64(w[1])) > 0.05 {
		t.Errorf("hidden layer moved far from its initial weights: %v", w[:6])
	}
}

// TestTrainSameOnAnyCores trains with matrix products big enough for the
// Go backend to split among workers, on one and on four cores: the
// weights must be bit-identical.
func TestTrainSameOnAnyCores(t *testing.T) {
	if testing.Short() {
		t.Skip("trains twice")
	}
	b := goBackend(t)
	cfg := NewConfig(Classification, 128, 2)
	cfg.Hidden = []int{256}
	train := blobsDataset(600, 128, 7)
	opts := Options{MaxEpochs: 2, BatchSize: 256, Seed: 1}
	var weights []string
	for _, procs := range []int{1, 4} {
		prev := runtime.GOMAXPROCS(procs)
		h, err := Train(context.Background(), b, cfg, train, Dataset{}, opts)
		runtime.GOMAXPROCS(prev)
		if err != nil {
			t.Fatal(err)
		}
		w, _, _ := h.Marshal()
		weights = append(weights, string(w))
	}
	if weights[0] != weights[1] {
		t.Error("training on 1 and 4 cores gave different weights")
	}
}

// TestTrainLinearDecay: the learning rate falls linearly over every step of
// MaxEpochs epochs, as transformers' Trainer schedules it, and the steps
// train with it.
func TestTrainLinearDecay(t *testing.T) {
	b := goBackend(t)
	cfg := NewConfig(Classification, 8, 2)
	cfg.Hidden = []int{16}
	train, valid := blobsDataset(300, 8, 1), blobsDataset(100, 8, 2)
	opts := Options{MaxEpochs: 4, Patience: -1, Seed: 1, BatchSize: 64, LearningRate: 0.01, LinearDecay: true}
	h, err := Train(context.Background(), b, cfg, train, valid, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range h.Training.History {
		if want := 0.01 * (1 - float64(i)/4); math.Abs(e.LearningRate-want) > 1e-12 {
			t.Errorf("epoch %d starts at rate %v, want %v", e.Epoch, e.LearningRate, want)
		}
	}
	opts.LinearDecay, opts.NoPlateau = false, true
	constant, err := Train(context.Background(), b, cfg, train, valid, opts)
	if err != nil {
		t.Fatal(err)
	}
	wa, _, _ := h.Marshal()
	wb, _, _ := constant.Marshal()
	if string(wa) == string(wb) {
		t.Error("a decaying rate trained the same weights as a constant one")
	}
	opts.LinearDecay, opts.MaxEpochs, opts.Patience = true, 0, 5
	if _, err := Train(context.Background(), b, cfg, train, valid, opts); err == nil || !strings.Contains(err.Error(), "linear decay") {
		t.Errorf("linear decay without epochs: %v", err)
	}
}
