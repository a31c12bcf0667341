package fasttext

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
	return v
}

// TestGatherScatterAgree checks the row kernels against the generic ones.
func TestGatherScatterAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, dim := range []int{1, 7, 8, 16, 100, 256} {
		mat := randVec(r, 50*dim)
		ids := []int32{3, 49, 0, 3, 17, 17, 22, 5, 8, 1}
		d1, d2 := randVec(r, dim), make([]float32, dim)
		copy(d2, d1)
		gatherAdd(d1, mat, ids, dim)
		gatherAddGeneric(d2, mat, ids, dim)
		for i := range d1 {
			if d1[i] != d2[i] {
				t.Fatalf("gatherAdd dim %d: element %d = %v, want %v", dim, i, d1[i], d2[i])
			}
		}
		m1, m2 := append([]float32(nil), mat...), append([]float32(nil), mat...)
		scatterAdd(d1, m1, ids, dim)
		scatterAddGeneric(d1, m2, ids, dim)
		for i := range m1 {
			if m1[i] != m2[i] {
				t.Fatalf("scatterAdd dim %d: element %d = %v, want %v", dim, i, m1[i], m2[i])
			}
		}
	}
}

// TestKernelsAgree checks the dispatched kernels against the generic ones
// on every length up to 70 (covering each vector loop and tail).
func TestKernelsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 70; n++ {
		a, b := randVec(r, n), randVec(r, n)
		if got, want := dotFast(a, b), dotSeq(a, b); math.Abs(float64(got-want)) > 1e-5*float64(n+1) {
			t.Errorf("dot n=%d: %v, want %v", n, got, want)
		}
		y1, y2 := append([]float32(nil), b...), append([]float32(nil), b...)
		axpy(0.37, a, y1)
		axpyGeneric(0.37, a, y2)
		closeSlices(t, "axpy", n, y1, y2)
		y1, y2 = append([]float32(nil), b...), append([]float32(nil), b...)
		add(a, y1)
		addGeneric(a, y2)
		for i := range y1 {
			if y1[i] != y2[i] {
				t.Fatalf("add n=%d: element %d = %v, want %v", n, i, y1[i], y2[i])
			}
		}
		h := randVec(r, n)
		w1, w2 := append([]float32(nil), a...), append([]float32(nil), a...)
		g1, g2 := append([]float32(nil), b...), append([]float32(nil), b...)
		rowUpdate(-0.21, w1, g1, h)
		rowUpdateGeneric(-0.21, w2, g2, h)
		closeSlices(t, "rowUpdate w", n, w1, w2)
		closeSlices(t, "rowUpdate grad", n, g1, g2)
	}
}

func closeSlices(t *testing.T, what string, n int, got, want []float32) {
	t.Helper()
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("%s n=%d: element %d = %v, want %v", what, n, i, got[i], want[i])
		}
	}
}
