package head

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/winnowlabs/winnow/models/evaluate"
)

// TestPairwiseHingeByHand: scores 2, 0.5, 1, -1 with targets 3, 1, 1, 0
// and margin 1. Ordered pairs (i, j) with tᵢ > tⱼ and their hinge
// max(0, 1 − (sᵢ − sⱼ)):
//
//	(0,1): 1 − 1.5 → 0      (0,2): 1 − 1 → 0      (0,3): 1 − 3 → 0
//	(1,3): 1 − 1.5 → 0      (2,3): 1 − 2 → 0
//
// all satisfied; swapping scores 0 and 3 (s = −1, 0.5, 1, 2):
//
//	(0,1): 1 + 1.5 = 2.5    (0,2): 1 + 2 = 3      (0,3): 1 + 3 = 4
//	(1,3): 1 + 1.5 = 2.5    (2,3): 1 + 1 = 2
//
// sum 14 over 5 pairs; the tie between rows 1 and 2 is no pair. With a
// padding row (mask 0, target 9) the graph's mean must not change.
func TestPairwiseHingeByHand(t *testing.T) {
	targets := []float32{3, 1, 1, 0}
	if sum, pairs := pairwiseHinge([]float32{2, 0.5, 1, -1}, targets, 1); sum != 0 || pairs != 5 {
		t.Errorf("ordered scores: sum %v over %d pairs, want 0 over 5", sum, pairs)
	}
	s := []float32{-1, 0.5, 1, 2}
	if sum, pairs := pairwiseHinge(s, targets, 1); sum != 14 || pairs != 5 {
		t.Errorf("reversed scores: sum %v over %d pairs, want 14 over 5", sum, pairs)
	}
	b := goBackend(t)
	loss, err := graph.ExecOnce(b, func(s, tg, m *graph.Node) *graph.Node {
		return pairwiseHingeGraph(s, tg, m, 1)
	}, append(s, 5), append(targets, 9), []float32{1, 1, 1, 1, 0})
	if err != nil {
		t.Fatal(err)
	}
	if got := tensors.MustCopyFlatData[float32](loss)[0]; math.Abs(float64(got)-14.0/5) > 1e-6 {
		t.Errorf("graph loss %v, want 14/5", got)
	}
}

// rankingSet makes rows in a few separated groups (what the clustering
// finds); within a group the target grows with feature 1. Group 3's rows
// all have the same target, so its batches have no pair.
func rankingSet(n int, seed uint64) Dataset {
	r := rand.New(rand.NewPCG(seed, 13))
	var ds Dataset
	for range n {
		g := r.IntN(4)
		row := []float32{float32(10 * g), float32(r.NormFloat64()), float32(r.NormFloat64())}
		y := float32(math.Round(min(max(2+1.5*float64(row[1])+0.3*r.NormFloat64(), 0), 4)))
		if g == 3 {
			y = 2
		}
		ds.X = append(ds.X, row...)
		ds.Targets = append(ds.Targets, y)
	}
	return ds
}

func TestTrainRanking(t *testing.T) {
	b := goBackend(t)
	cfg := NewConfig(Ranking, 3, 1)
	cfg.Hidden = []int{16}
	train, valid := rankingSet(400, 1), rankingSet(200, 2)
	opts := Options{Clusters: 4, BatchSize: 16, MaxEpochs: 15, Seed: 2, LearningRate: 0.01}
	h, err := Train(context.Background(), b, cfg, train, valid, opts)
	if err != nil {
		t.Fatal(err)
	}
	rec := h.Training
	if rec.Clusters != 4 || rec.Mode != "ranking" {
		t.Errorf("record %+v", rec)
	}
	// Group 3 (about 100 rows in batches of 16) is skipped every epoch.
	if s := rec.History[0].SkippedBatches; s < 5 || s > 8 {
		t.Errorf("%d batches skipped, want group 3's", s)
	}
	if first, best := rec.History[0].ValidLoss, rec.History[rec.BestEpoch-1].ValidLoss; !(best < first) {
		t.Errorf("validation hinge loss went from %v to %v", first, best)
	}
	scores := make([]float32, 200)
	if _, err := h.Forward(scores, valid.X, &Scratch{}); err != nil {
		t.Fatal(err)
	}
	// Within groups 0-2 the scores order the rows.
	var s, y []float64
	for i := range 200 {
		if valid.X[3*i] < 25 {
			s = append(s, float64(scores[i]))
			y = append(y, float64(valid.Targets[i]))
		}
	}
	rep, err := evaluate.Rank(s, y, evaluate.RankOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *rep.Spearman < 0.8 {
		t.Errorf("Spearman of the validation scores %v", *rep.Spearman)
	}
	if *h.Range != [2]float64{0, 4} {
		t.Errorf("range %v", *h.Range)
	}
}

func TestTrainRankingWithoutPairs(t *testing.T) {
	ds := rankingSet(50, 1)
	for i := range ds.Targets {
		ds.Targets[i] = 1
	}
	_, err := Train(context.Background(), goBackend(t), NewConfig(Ranking, 3, 1), ds, Dataset{}, Options{MaxEpochs: 2})
	if err == nil || !strings.Contains(err.Error(), "nothing to rank") {
		t.Errorf("ranking with a single label: %v", err)
	}
}
