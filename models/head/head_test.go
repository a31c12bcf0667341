package head

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/compute"
	"github.com/winnowlabs/winnow/models/gomlxbackend"
)

func goBackend(t testing.TB) compute.Backend {
	t.Helper()
	b, err := gomlxbackend.Open("go")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// randomHead returns a head with random weights (biases too).
func randomHead(cfg Config, seed uint64) *Head {
	h := &Head{Config: cfg, Layers: initLayers(cfg, seed)}
	r := rand.New(rand.NewPCG(seed, 9))
	for _, l := range h.Layers {
		for i := range l.B {
			l.B[i] = float32(r.NormFloat64() * 0.1)
		}
	}
	return h
}

func randomRows(rows, dim int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 3))
	x := make([]float32, rows*dim)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func TestSaveLoadRoundTrip(t *testing.T) {
	cfg := Config{InputDim: 12, Hidden: []int{7, 5}, Activation: Tanh, Outputs: 3, Task: Classification}
	h := randomHead(cfg, 1)
	h.Labels = []string{"low", "mid", "high"}
	h.Training = &Record{
		Options:   Options{LearningRate: 1e-3, BatchSize: 32, Seed: 7, Metric: MacroF1, ClassWeight: Balanced, ClassWeights: []float64{0.2, 0.3, 0.5}},
		Mode:      "features",
		Backend:   "Go Backend",
		TrainRows: 90, ValidRows: 10,
		History: []Epoch{
			{Epoch: 1, TrainLoss: 1.1, ValidLoss: 1.05, Metric: Number(math.NaN()), LearningRate: 1e-3, Best: true, Seconds: 0.25, RowsPerSecond: 360},
			{Epoch: 2, TrainLoss: 0.9, ValidLoss: 1.0 / 3, Metric: 0.41, LearningRate: 5e-4, Seconds: 0.125, RowsPerSecond: 720},
		},
		BestEpoch: 2,
		Stopped:   "max epochs",
	}
	w1, m1, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Unmarshal(w1, m1)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range h.Layers {
		for j := range l.W {
			if math.Float32bits(l.W[j]) != math.Float32bits(back.Layers[i].W[j]) {
				t.Fatalf("layer %d weight %d: %v became %v", i, j, l.W[j], back.Layers[i].W[j])
			}
		}
		for j := range l.B {
			if math.Float32bits(l.B[j]) != math.Float32bits(back.Layers[i].B[j]) {
				t.Fatalf("layer %d bias %d changed", i, j)
			}
		}
	}
	if !math.IsNaN(float64(back.Training.History[0].Metric)) || back.Training.History[1].ValidLoss != 1.0/3 {
		t.Errorf("history did not round-trip: %+v", back.Training.History)
	}
	w2, m2, err := back.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w1, w2) || !bytes.Equal(m1, m2) {
		t.Errorf("saving a loaded head changed the files:\n%s\n%s", m1, m2)
	}

	// Through a directory, as regression head with a range.
	rcfg := NewConfig(Regression, 4, 0)
	rh := randomHead(rcfg, 2)
	rh.Range = &[2]float64{0, 5}
	dir := t.TempDir()
	if err := rh.Save(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	got, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if *got.Range != [2]float64{0, 5} || got.Config.Hidden[0] != DefaultHidden {
		t.Errorf("loaded %+v", got)
	}
}

func TestLoadErrors(t *testing.T) {
	h := randomHead(Config{InputDim: 3, Hidden: []int{2}, Activation: ReLU, Outputs: 2, Task: Classification}, 1)
	w, m, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		w, m []byte
		want string
	}{
		"format":        {w, bytes.Replace(m, []byte(Format), []byte("other"), 1), `format "other"`},
		"version":       {w, bytes.Replace(m, []byte(`"version": 1`), []byte(`"version": 9`), 1), "format version 9"},
		"config":        {w, bytes.Replace(m, []byte(`"outputs": 2`), []byte(`"outputs": 1`), 1), "at least 2 outputs"},
		"shape":         {w, bytes.Replace(m, []byte(`"input_dim": 3`), []byte(`"input_dim": 4`), 1), `"layers.0.weight" is F32 [2 3], want F32 [2 4]`},
		"not json":      {w, []byte("{"), MetaFile},
		"truncated st":  {w[:len(w)-4], m, WeightsFile},
		"wrong tensors": {w, bytes.Replace(m, []byte(`"hidden": [`), []byte(`"hidden": [2, `), 1), "no tensor"},
	} {
		if _, err := Unmarshal(tc.w, tc.m); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, tc.want)
		}
	}
	dir := t.TempDir()
	if _, err := Load(context.Background(), dir); err == nil || !strings.Contains(err.Error(), WeightsFile) {
		t.Errorf("Load of an empty directory: %v", err)
	}
	os.WriteFile(filepath.Join(dir, WeightsFile), w, 0o644)
	if _, err := Load(context.Background(), dir); err == nil || !strings.Contains(err.Error(), MetaFile) {
		t.Errorf("Load without %s: %v", MetaFile, err)
	}
}

// TestPredictorMatchesForward checks GoMLX inference against plain Go on
// several shapes and batch sizes (1e-5).
func TestPredictorMatchesForward(t *testing.T) {
	b := goBackend(t)
	for i, cfg := range []Config{
		NewConfig(Classification, 32, 3),
		{InputDim: 20, Hidden: []int{24}, Activation: Tanh, Outputs: 1, Task: Regression},
		{InputDim: 9, Hidden: []int{16, 8}, Activation: ReLU, Outputs: 2, Task: Classification},
		{InputDim: 6, Activation: ReLU, Outputs: 1, Task: Ranking},
	} {
		h := randomHead(cfg, uint64(i))
		p, err := NewPredictor(b, h, 1, 8, 32)
		if err != nil {
			t.Fatal(err)
		}
		for _, rows := range []int{1, 3, 8, 9, 77} {
			x := randomRows(rows, cfg.InputDim, uint64(rows))
			want, err := h.Forward(make([]float32, rows*cfg.Outputs), x, &Scratch{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Forward(make([]float32, rows*cfg.Outputs), x)
			if err != nil {
				t.Fatal(err)
			}
			for j := range want {
				if math.Abs(float64(got[j]-want[j])) > 1e-5*max(1, math.Abs(float64(want[j]))) {
					t.Fatalf("config %d, %d rows: output %d GoMLX %v, plain Go %v", i, rows, j, got[j], want[j])
				}
			}
			// One row at a time gives the batch's values.
			one := make([]float32, cfg.Outputs)
			for r := range rows {
				h.Forward(one, x[r*cfg.InputDim:(r+1)*cfg.InputDim], &Scratch{})
				for j, v := range one {
					if math.Abs(float64(v-want[r*cfg.Outputs+j])) > 1e-5 {
						t.Fatalf("config %d row %d: alone %v, in a batch %v", i, r, one, want[r*cfg.Outputs:(r+1)*cfg.Outputs])
					}
				}
			}
		}
	}
}

func TestForwardAllocationFreeAndConcurrent(t *testing.T) {
	h := randomHead(NewConfig(Classification, 64, 2), 3)
	x := randomRows(16, 64, 1)
	dst := make([]float32, 32)
	var s Scratch
	if allocs := testing.AllocsPerRun(20, func() { h.Forward(dst, x, &s) }); allocs != 0 {
		t.Errorf("Forward allocates %v times per call", allocs)
	}
	want, _ := h.Forward(make([]float32, 32), x, &Scratch{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			var s Scratch
			out := make([]float32, 32)
			for range 50 {
				rows := 1 + g%16
				got, err := h.Forward(out, x[:rows*64], &s)
				if err != nil {
					t.Error(err)
					return
				}
				for j := range got {
					if got[j] != want[j] {
						t.Errorf("goroutine %d: output %d = %v, want %v", g, j, got[j], want[j])
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestForwardErrors(t *testing.T) {
	h := randomHead(NewConfig(Classification, 4, 2), 1)
	if _, err := h.Forward(make([]float32, 2), make([]float32, 5), &Scratch{}); err == nil {
		t.Error("input that is not whole rows accepted")
	}
	if _, err := h.Forward(make([]float32, 1), make([]float32, 4), &Scratch{}); err == nil {
		t.Error("short output buffer accepted")
	}
	if _, err := New(NewConfig(Classification, 4, 2), h.Layers[:1]); err == nil {
		t.Error("missing layer accepted")
	}
	bad := h.Clone()
	bad.Layers[0].W[0] = float32(math.NaN())
	if _, err := New(bad.Config, bad.Layers); err == nil {
		t.Error("NaN weight accepted")
	}
}

func TestSoftmax(t *testing.T) {
	v := []float32{1, 2, 3}
	Softmax(v)
	e := []float64{math.Exp(-2), math.Exp(-1), 1}
	s := e[0] + e[1] + e[2]
	for i := range v {
		if math.Abs(float64(v[i])-e[i]/s) > 1e-7 {
			t.Errorf("softmax %v", v)
		}
	}
}

// TestPredictorConcurrent shares one Predictor among goroutines calling
// with different batch sizes.
func TestPredictorConcurrent(t *testing.T) {
	h := randomHead(NewConfig(Classification, 24, 3), 4)
	p, err := NewPredictor(goBackend(t), h, 1, 4, 16)
	if err != nil {
		t.Fatal(err)
	}
	x := randomRows(40, 24, 2)
	want, _ := p.Forward(make([]float32, 120), x)
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			out := make([]float32, 120)
			for i := range 20 {
				rows := 1 + (g*7+i)%40
				got, err := p.Forward(out, x[:rows*24])
				if err != nil {
					t.Error(err)
					return
				}
				for j := range got {
					if math.Abs(float64(got[j]-want[j])) > 1e-5 {
						t.Errorf("goroutine %d, %d rows: output %d = %v, want %v", g, rows, j, got[j], want[j])
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
