package head

import (
	"fmt"
	"math/rand/v2"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/winnowlabs/winnow/models/kmeans"
)

// clusterRows clusters the training rows and sets the ranking batches.
func (r *run) clusterRows(ts, vs *featureSource) error {
	km, err := kmeans.Fit(ts.x, ts.dim, r.opts.Clusters, kmeans.Options{Seed: r.opts.Seed})
	if err != nil {
		return fmt.Errorf("head: cluster the training rows: %w", err)
	}
	r.clusters = km.K
	members := make([][]int, km.K)
	for i, c := range km.Assign {
		members[c] = append(members[c], i)
	}
	vassign, err := km.Predict(vs.x)
	if err != nil {
		return err
	}
	vmembers := make([][]int, km.K)
	for i, c := range vassign {
		vmembers[c] = append(vmembers[c], i)
	}
	b := r.opts.BatchSize
	r.validGroups = nil
	for _, m := range vmembers {
		r.validGroups = append(r.validGroups, chunks(m, b)...)
	}
	targets := r.train.targets
	r.trainBatches = func(rng *rand.Rand) ([][]int, int) {
		var batches [][]int
		skipped := 0
		for _, m := range members {
			rows := make([]int, len(m))
			for i, j := range rng.Perm(len(m)) {
				rows[i] = m[j]
			}
			for _, batch := range chunks(rows, b) {
				if hasPair(batch, targets) {
					batches = append(batches, batch)
				} else {
					skipped++
				}
			}
		}
		rng.Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })
		return batches, skipped
	}
	return nil
}

// hasPair reports whether rows hold two different targets.
func hasPair(rows []int, targets []float32) bool {
	for _, i := range rows[1:] {
		if targets[i] != targets[rows[0]] {
			return true
		}
	}
	return false
}

// pairwiseHinge returns the sum over pairs (i, j) with t[i] > t[j] of
// max(0, margin − (s[i] − s[j])), and the number of such pairs.
func pairwiseHinge(s, t []float32, margin float64) (sum float64, pairs int) {
	for i := range s {
		for j := range s {
			if t[i] > t[j] {
				sum += max(0, margin-(float64(s[i])-float64(s[j])))
				pairs++
			}
		}
	}
	return sum, pairs
}

// pairwiseHingeGraph is pairwiseHinge's mean on GoMLX for scores s [B],
// targets t [B] and row mask m [B] (0 for padding rows): Σ over pairs with
// tᵢ > tⱼ and both rows real of max(0, margin − (sᵢ − sⱼ)), divided by
// the number of such pairs (the caller skips batches without one).
func pairwiseHingeGraph(s, t, m *graph.Node, margin float64) *graph.Node {
	diff := graph.Sub(graph.ExpandAxes(s, 1), graph.ExpandAxes(s, 0)) // sᵢ − sⱼ
	hinge := graph.MaxScalar(graph.Sub(graph.ConstAs(diff, margin), diff), float32(0))
	ordered := graph.ConvertDType(graph.GreaterThan(graph.ExpandAxes(t, 1), graph.ExpandAxes(t, 0)), dtypes.Float32)
	pairs := graph.Mul(ordered, graph.Mul(graph.ExpandAxes(m, 1), graph.ExpandAxes(m, 0)))
	return graph.Div(graph.ReduceAllSum(graph.Mul(pairs, hinge)), graph.ReduceAllSum(pairs))
}
