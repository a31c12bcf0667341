package fasttext

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

func TestAutotune(t *testing.T) {
	if testing.Short() {
		t.Skip("autotune runs for seconds")
	}
	path, _ := writeTrainingFile(t, 5)
	a := DefaultArgs()
	a.Thread = 1
	a.Dim = 10 // fixed by the user: not searched
	var reports int
	res, err := Autotune(context.Background(), path, a, AutotuneOptions{
		Validation: path, Duration: 3 * time.Second, Manual: map[string]bool{"dim": true},
	}, func(p AutotuneProgress) { reports++ })
	if err != nil {
		t.Fatal(err)
	}
	if res.Trials < 2 || reports == 0 || math.IsNaN(res.Score) || res.Score <= 0 {
		t.Errorf("%d trials, %d reports, score %v", res.Trials, reports, res.Score)
	}
	if res.Args.Dim != 10 || res.Model.Dim() != 10 {
		t.Errorf("manual dim changed: %d", res.Args.Dim)
	}
	if res.Model.Quantized() || res.Quantize != nil {
		t.Error("quantized without a size constraint")
	}

	res, err = Autotune(context.Background(), path, a, AutotuneOptions{
		Validation: path, Duration: 3 * time.Second, Metric: "f1:__label__food", ModelSize: "200K",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Model.Quantized() || res.Quantize == nil || !res.Quantize.QNorm {
		t.Errorf("size-constrained model not quantized: %+v", res.Quantize)
	}
}

func TestAutotuneErrors(t *testing.T) {
	path, _ := writeTrainingFile(t, 1)
	a := DefaultArgs()
	a.Thread = 1
	ctx := context.Background()
	for _, tc := range []struct {
		o    AutotuneOptions
		want string
	}{
		{AutotuneOptions{Validation: path, Metric: "accuracy"}, "unknown autotune metric"},
		{AutotuneOptions{Validation: path, ModelSize: "12X"}, "model size"},
		{AutotuneOptions{Validation: path + ".missing"}, "validation"},
		{AutotuneOptions{Validation: path, Metric: "f1:__label__nope", Duration: 30 * time.Second}, "not a label"},
	} {
		if _, err := Autotune(ctx, path, a, tc.o, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
	if v, err := ParseModelSize("2M"); err != nil || v != 2000000 {
		t.Errorf("2M = %d, %v", v, err)
	}
}

// TestMeter checks Test's counts on a hand-made case: two lines, k = 2.
func TestMeter(t *testing.T) {
	m, err := Load(syntheticPath(t, "softmax.bin"))
	if err != nil {
		t.Fatal(err)
	}
	text := "__label__food delicious pizza pasta and sweet cake\n__label__tech __label__weather the software code runs on a fast computer\n"
	res, err := m.Test(strings.NewReader(text), 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	hits, gold := 0, 3
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		var labels []string
		var words []string
		for _, w := range strings.Fields(l) {
			if strings.HasPrefix(w, "__label__") {
				labels = append(labels, w)
			} else {
				words = append(words, w)
			}
		}
		for _, p := range m.Predict(strings.Join(words, " "), 2, 0) {
			for _, g := range labels {
				if g == p.Label {
					hits++
				}
			}
		}
	}
	if res.Examples != 2 || res.All.Gold != int64(gold) || res.All.Predicted != 4 || res.All.PredictedGold != int64(hits) {
		t.Errorf("counts %+v, want 2 examples, gold %d, 4 predictions, %d hits", res.All, gold, hits)
	}
	if math.Abs(res.PrecisionAtK()-float64(hits)/4) > 1e-12 || math.Abs(res.RecallAtK()-float64(hits)/3) > 1e-12 {
		t.Errorf("P@2 %v R@2 %v", res.PrecisionAtK(), res.RecallAtK())
	}
	var sum int64
	for _, c := range res.Labels {
		sum += c.Gold
	}
	if sum != 3 {
		t.Errorf("per-label gold counts sum to %d", sum)
	}
	if _, err := m.Test(strings.NewReader(text), 0, 0); err == nil {
		t.Error("k=0 accepted")
	}
}
