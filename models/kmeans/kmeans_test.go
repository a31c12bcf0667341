package kmeans

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// blobs returns n rows around each of the given centres (spread 0.1), in
// random order, with each row's true centre.
func blobs(centres [][]float32, n int, seed uint64) ([]float32, []int) {
	r := rand.New(rand.NewPCG(seed, 1))
	dim := len(centres[0])
	var x []float32
	var truth []int
	for _, i := range r.Perm(n * len(centres)) {
		c := i % len(centres)
		for j := range dim {
			x = append(x, centres[c][j]+float32(r.NormFloat64()*0.1))
		}
		truth = append(truth, c)
	}
	return x, truth
}

func TestSeparableBlobs(t *testing.T) {
	centres := [][]float32{{0, 0, 0}, {5, 5, 0}, {-5, 5, 2}, {0, -6, -3}}
	x, truth := blobs(centres, 200, 3)
	m, err := Fit(x, 3, 4, Options{Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	// Every blob maps to one cluster and no two blobs share one.
	blobOf := map[int32]int{}
	for i, c := range m.Assign {
		if b, ok := blobOf[c]; ok && b != truth[i] {
			t.Fatalf("cluster %d holds rows of blobs %d and %d", c, b, truth[i])
		}
		blobOf[c] = truth[i]
	}
	if len(blobOf) != 4 {
		t.Fatalf("%d clusters used, want 4", len(blobOf))
	}
	// The centroids are the blob means, near the centres.
	for c, b := range blobOf {
		for j := range 3 {
			if d := m.Centroids[int(c)*3+j] - centres[b][j]; d > 0.05 || d < -0.05 {
				t.Errorf("centroid %d = %v, centre %v", c, m.Centroids[int(c)*3:int(c)*3+3], centres[b])
			}
		}
	}
	// Predict agrees with the fit.
	p, err := m.Predict(x)
	if err != nil || !slices.Equal(p, m.Assign) {
		t.Errorf("Predict differs from the fitted assignment (%v)", err)
	}
}

func TestDeterministic(t *testing.T) {
	x, _ := blobs([][]float32{{0, 0}, {1, 1}, {2, 0}, {3, 3}, {0, 3}}, 900, 5)
	a, err := Fit(x, 2, 7, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	prev := runtime.GOMAXPROCS(1)
	b, err := Fit(x, 2, 7, Options{Seed: 1})
	runtime.GOMAXPROCS(prev)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Assign, b.Assign) || !slices.Equal(a.Centroids, b.Centroids) {
		t.Error("the same seed gave different clusters on 1 and several cores")
	}
	c, _ := Fit(x, 2, 7, Options{Seed: 2})
	if slices.Equal(a.Centroids, c.Centroids) {
		t.Error("another seed gave the same centroids")
	}
}

func TestClampAndErrors(t *testing.T) {
	m, err := Fit([]float32{1, 2, 3, 4}, 2, 100, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.K != 2 || m.Assign[0] == m.Assign[1] {
		t.Errorf("k clamped to %d, assignment %v", m.K, m.Assign)
	}
	// Identical rows: k-means++ has no distance to sample by.
	if m, err := Fit([]float32{1, 1, 1, 1, 1, 1}, 2, 3, Options{}); err != nil || m.K != 3 {
		t.Errorf("identical rows: %v, %v", m, err)
	}
	for _, bad := range []struct {
		x   []float32
		dim int
		k   int
	}{{nil, 2, 1}, {[]float32{1, 2, 3}, 2, 1}, {[]float32{1, 2}, 2, 0}, {[]float32{1, float32(math.NaN())}, 2, 1}} {
		if _, err := Fit(bad.x, bad.dim, bad.k, Options{}); err == nil {
			t.Errorf("Fit(%v, %d, %d) accepted", bad.x, bad.dim, bad.k)
		}
	}
}
