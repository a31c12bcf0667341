// Package kmeans clusters dense float32 vectors with k-means (squared
// Euclidean distance, k-means++ seeding, Lloyd iterations), seeded and
// deterministic: the same input, k and seed give the same clusters on any
// number of cores.
package kmeans

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// Options tune Fit.
type Options struct {
	// MaxIter bounds the Lloyd iterations (default 100); Fit stops earlier
	// when no assignment changes.
	MaxIter int
	// Seed seeds the k-means++ sampling.
	Seed uint64
}

// Model is a fitted clustering.
type Model struct {
	K, Dim int
	// Centroids holds K rows of Dim values.
	Centroids []float32
	// Assign is the cluster of each input row.
	Assign []int32
	// Iterations is the number of Lloyd iterations run; Inertia is the sum
	// of squared distances of the rows to their centroids.
	Iterations int
	Inertia    float64
}

// chunk is the number of rows a worker handles at a time; partial sums
// are combined in chunk order, so results do not depend on the number of
// workers.
const chunk = 1024

// Fit clusters the n rows of x (n×dim, row-major) into k clusters; k is
// clamped to n. Rows must be finite.
func Fit(x []float32, dim, k int, opts Options) (*Model, error) {
	if dim <= 0 || len(x)%dim != 0 {
		return nil, fmt.Errorf("kmeans: %d values do not make rows of %d", len(x), dim)
	}
	n := len(x) / dim
	if n == 0 {
		return nil, fmt.Errorf("kmeans: no rows")
	}
	if k <= 0 {
		return nil, fmt.Errorf("kmeans: %d clusters", k)
	}
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("kmeans: row %d has a non-finite value", i/dim)
		}
	}
	k = min(k, n)
	maxIter := opts.MaxIter
	if maxIter <= 0 {
		maxIter = 100
	}
	m := &Model{K: k, Dim: dim, Assign: make([]int32, n)}
	m.Centroids = seed(x, n, dim, k, opts.Seed)
	dist := make([]float64, n)
	for i := range m.Assign {
		m.Assign[i] = -1
	}
	sums := make([]float64, k*dim)
	counts := make([]int, k)
	for m.Iterations < maxIter {
		m.Iterations++
		changed := m.assign(x, dist)
		if !changed && m.Iterations > 1 {
			break
		}
		// Recompute the centroids in row order.
		clear(sums)
		clear(counts)
		for i := range n {
			c := int(m.Assign[i])
			counts[c]++
			row := x[i*dim : (i+1)*dim]
			s := sums[c*dim : (c+1)*dim]
			for j, v := range row {
				s[j] += float64(v)
			}
		}
		for c := range k {
			if counts[c] == 0 {
				// An empty cluster takes the row farthest from its
				// centroid (the lowest index among equals).
				far := 0
				for i := range n {
					if dist[i] > dist[far] {
						far = i
					}
				}
				copy(m.Centroids[c*dim:(c+1)*dim], x[far*dim:(far+1)*dim])
				dist[far] = 0
				continue
			}
			for j := range dim {
				m.Centroids[c*dim+j] = float32(sums[c*dim+j] / float64(counts[c]))
			}
		}
	}
	m.Inertia = 0
	for _, d := range dist {
		m.Inertia += d
	}
	return m, nil
}

// seed picks k initial centroids by k-means++: the first uniformly, each
// next one with probability proportional to its squared distance to the
// nearest centroid so far.
func seed(x []float32, n, dim, k int, s uint64) []float32 {
	r := rand.New(rand.NewPCG(s, 0x6b6d65616e73)) // "kmeans"
	cent := make([]float32, 0, k*dim)
	first := r.IntN(n)
	cent = append(cent, x[first*dim:(first+1)*dim]...)
	d2 := make([]float64, n)
	for i := range d2 {
		d2[i] = math.Inf(1)
	}
	for c := 1; c < k; c++ {
		last := cent[(c-1)*dim : c*dim]
		var total float64
		parallel(n, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if d := sqDist(x[i*dim:(i+1)*dim], last); d < d2[i] {
					d2[i] = d
				}
			}
		})
		for _, d := range d2 {
			total += d
		}
		next := n - 1
		if total > 0 {
			u := r.Float64() * total
			for i, d := range d2 {
				if u < d {
					next = i
					break
				}
				u -= d
			}
		} else {
			// Every row equals a centroid: take rows in order.
			next = c % n
		}
		cent = append(cent, x[next*dim:(next+1)*dim]...)
	}
	return cent
}

// assign sets each row's nearest centroid (the lowest index among equal
// distances) and its squared distance, and reports whether any
// assignment changed.
func (m *Model) assign(x []float32, dist []float64) bool {
	var mu sync.Mutex
	changed := false
	parallel(len(m.Assign), func(lo, hi int) {
		ch := false
		for i := lo; i < hi; i++ {
			c, d := Nearest(m.Centroids, m.Dim, x[i*m.Dim:(i+1)*m.Dim])
			dist[i] = d
			if int32(c) != m.Assign[i] {
				m.Assign[i] = int32(c)
				ch = true
			}
		}
		if ch {
			mu.Lock()
			changed = true
			mu.Unlock()
		}
	})
	return changed
}

// Nearest returns the index of the centroid (rows of dim in centroids)
// nearest to v, the lowest among equals, and its squared distance.
func Nearest(centroids []float32, dim int, v []float32) (int, float64) {
	best, bestD := 0, math.Inf(1)
	for c := 0; c*dim < len(centroids); c++ {
		if d := sqDist(v, centroids[c*dim:(c+1)*dim]); d < bestD {
			best, bestD = c, d
		}
	}
	return best, bestD
}

// Predict returns the nearest centroid of each row of x.
func (m *Model) Predict(x []float32) ([]int32, error) {
	if len(x)%m.Dim != 0 {
		return nil, fmt.Errorf("kmeans: %d values do not make rows of %d", len(x), m.Dim)
	}
	out := make([]int32, len(x)/m.Dim)
	parallel(len(out), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			c, _ := Nearest(m.Centroids, m.Dim, x[i*m.Dim:(i+1)*m.Dim])
			out[i] = int32(c)
		}
	})
	return out, nil
}

func sqDist(a, b []float32) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		d0, d1, d2, d3 := a[i]-b[i], a[i+1]-b[i+1], a[i+2]-b[i+2], a[i+3]-b[i+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(a); i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return float64(s0) + float64(s1) + float64(s2) + float64(s3)
}

// parallel runs fn over [0, n) in chunks on GOMAXPROCS workers; each row
// is handled by exactly one call.
func parallel(n int, fn func(lo, hi int)) {
	chunks := (n + chunk - 1) / chunk
	workers := min(runtime.GOMAXPROCS(0), chunks)
	if workers <= 1 {
		fn(0, n)
		return
	}
	var next sync.Mutex
	c := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				next.Lock()
				i := c
				c++
				next.Unlock()
				if i >= chunks {
					return
				}
				fn(i*chunk, min((i+1)*chunk, n))
			}
		})
	}
	wg.Wait()
}
