package fasttext

import (
	"math"
	"math/big"
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

// forEachKernelSet runs f on every kernel set this CPU supports (the
// generic one included). On an AVX-512 machine that is all three; the
// others test what they can.
func forEachKernelSet(t *testing.T, f func(t *testing.T, k kernelSet)) {
	t.Logf("kernel sets: %d, in use: %s", len(kernelSets), Kernels())
	for _, k := range kernelSets {
		t.Run(k.name, func(t *testing.T) { f(t, k) })
	}
}

// TestKernelSelection checks that the fastest supported set is the one in
// use.
func TestKernelSelection(t *testing.T) {
	if kernelSets[0].name != "generic" || kernels.name != kernelSets[len(kernelSets)-1].name {
		t.Errorf("sets %d, first %s, in use %s", len(kernelSets), kernelSets[0].name, kernels.name)
	}
	// bench/fasttext/run.sh prints the last word of this line.
	t.Logf("kernels in use: %s", kernels.name)
}

// TestGatherScatterAgree checks the row kernels against the generic ones:
// both add in the same order, so the results are identical.
func TestGatherScatterAgree(t *testing.T) {
	forEachKernelSet(t, func(t *testing.T, k kernelSet) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, dim := range []int{1, 7, 8, 16, 100, 256} {
			mat := randVec(r, 50*dim)
			ids := []int32{3, 49, 0, 3, 17, 17, 22, 5, 8, 1}
			d1, d2 := randVec(r, dim), make([]float32, dim)
			copy(d2, d1)
			k.gatherAdd(d1, mat, ids, dim)
			gatherAddGeneric(d2, mat, ids, dim)
			for i := range d1 {
				if d1[i] != d2[i] {
					t.Fatalf("gatherAdd dim %d: element %d = %v, want %v", dim, i, d1[i], d2[i])
				}
			}
			m1, m2 := append([]float32(nil), mat...), append([]float32(nil), mat...)
			k.scatterAdd(d1, m1, ids, dim)
			scatterAddGeneric(d1, m2, ids, dim)
			for i := range m1 {
				if m1[i] != m2[i] {
					t.Fatalf("scatterAdd dim %d: element %d = %v, want %v", dim, i, m1[i], m2[i])
				}
			}
		}
	})
}

// TestKernelsAgree checks each set's dot product and row update against
// the sequential generic ones on every length up to 70 (covering each
// vector loop and tail) and the padded lengths training uses.
func TestKernelsAgree(t *testing.T) {
	forEachKernelSet(t, func(t *testing.T, k kernelSet) {
		r := rand.New(rand.NewPCG(1, 2))
		for n := 0; n <= 130; n++ {
			if n > 70 && n%16 != 0 {
				continue
			}
			a, b := randVec(r, n), randVec(r, n)
			if got, want := k.dot(a, b), dotSeq(a, b); math.Abs(float64(got-want)) > 1e-5*float64(n+1) {
				t.Errorf("dot n=%d: %v, want %v", n, got, want)
			}
			h := randVec(r, n)
			w1, w2 := append([]float32(nil), a...), append([]float32(nil), a...)
			g1, g2 := append([]float32(nil), b...), append([]float32(nil), b...)
			k.rowUpdate(-0.21, w1, g1, h)
			rowUpdateGeneric(-0.21, w2, g2, h)
			closeSlices(t, "rowUpdate w", n, w1, w2, 1e-6)
			closeSlices(t, "rowUpdate grad", n, g1, g2, 1e-6)
		}
	})
}

// TestRowKernelsAgree checks dotRows and rowsUpdate of each set against
// the generic ones over row lengths and row counts that exercise every
// block and remainder of the vectorised loops.
func TestRowKernelsAgree(t *testing.T) {
	forEachKernelSet(t, func(t *testing.T, k kernelSet) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, n := range []int{16, 32, 48, 64, 80, 112, 256} {
			for _, rows := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 733} {
				mat, x := randVec(r, rows*n), randVec(r, n)
				got, want := make([]float32, rows), make([]float32, rows)
				k.dotRows(mat, x, got)
				for i := range want {
					want[i] = dotSeq(mat[i*n:(i+1)*n], x)
				}
				closeSlices(t, "dotRows", n, got, want, 1e-5*float64(n))

				alpha := randVec(r, rows)
				for i := range alpha {
					alpha[i] *= 0.1
				}
				g1, m1 := randVec(r, n), append([]float32(nil), mat...)
				g2, m2 := append([]float32(nil), g1...), append([]float32(nil), mat...)
				k.rowsUpdate(m1, alpha, x, g1)
				rowsUpdateGeneric(m2, alpha, x, g2)
				closeSlices(t, "rowsUpdate rows", n, m1, m2, 1e-6)
				closeSlices(t, "rowsUpdate grad", n, g1, g2, 1e-6*float64(rows+1))
			}
		}
	})
}

// TestRowKernelsAnyLength checks that dotRows and rowsUpdate give the
// generic results for row lengths the vectorised sets do not take.
func TestRowKernelsAnyLength(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 5, 100} {
		mat, x, alpha := randVec(r, 3*n), randVec(r, n), randVec(r, 3)
		got, want := make([]float32, 3), make([]float32, 3)
		dotRows(mat, x, got)
		dotRowsGeneric(mat, x, want)
		closeSlices(t, "dotRows", n, got, want, 0)
		g1, m1 := randVec(r, n), append([]float32(nil), mat...)
		g2, m2 := append([]float32(nil), g1...), append([]float32(nil), mat...)
		rowsUpdate(m1, alpha, x, g1)
		rowsUpdateGeneric(m2, alpha, x, g2)
		closeSlices(t, "rowsUpdate rows", n, m1, m2, 0)
		closeSlices(t, "rowsUpdate grad", n, g1, g2, 0)
	}
}

// TestExpShiftSum checks each set's softmax exponentials against math.Exp
// (a few units in the last place), including lanes that underflow to 0,
// infinities and NaN.
func TestExpShiftSum(t *testing.T) {
	forEachKernelSet(t, func(t *testing.T, k kernelSet) {
		r := rand.New(rand.NewPCG(9, 10))
		if z := k.expShiftSum(nil); z != 0 {
			t.Errorf("empty: sum %v", z)
		}
		for _, n := range []int{1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 100, 733} {
			x := make([]float32, n)
			for i := range x {
				x[i] = r.Float32()*60 - 50
				if i%5 == 3 {
					x[i] -= 100 // exp(x - max) underflows
				}
			}
			if n > 2 {
				x[n/2] = float32(math.Inf(-1))
			}
			mx := x[0]
			for _, v := range x {
				mx = max(mx, v)
			}
			want := make([]float64, n)
			var wantSum float64
			for i, v := range x {
				d := float64(v - mx) // rounded as the kernels round it
				want[i] = math.Exp(d)
				if d < expLowest {
					want[i] = 0
				}
				wantSum += want[i]
			}
			z := k.expShiftSum(x)
			for i, v := range x {
				if d := math.Abs(float64(v) - want[i]); d > 3e-7*want[i] {
					t.Fatalf("n=%d: exp lane %d = %v, want %v", n, i, v, want[i])
				}
			}
			if math.Abs(float64(z)-wantSum) > 1e-6*wantSum {
				t.Errorf("n=%d: sum %v, want %v", n, z, wantSum)
			}
			nan := randVec(r, n)
			nan[n-1] = float32(math.NaN())
			if z := k.expShiftSum(nan); !math.IsNaN(float64(z)) {
				t.Errorf("n=%d with NaN: sum %v", n, z)
			}
		}
	})
}

// TestExpNonPositive checks the generic exponential over its whole range.
func TestExpNonPositive(t *testing.T) {
	for x := float32(0); x > -90; x -= 0.0037 {
		want := math.Exp(float64(x))
		if float64(x) < expLowest {
			want = 0
		}
		if got := float64(expNonPositive(x)); math.Abs(got-want) > 3e-7*want {
			t.Fatalf("exp(%v) = %v, want %v", x, got, want)
		}
	}
	if v := expNonPositive(float32(math.NaN())); !math.IsNaN(float64(v)) {
		t.Errorf("exp(NaN) = %v", v)
	}
}

func closeSlices(t *testing.T, what string, n int, got, want []float32, tol float64) {
	t.Helper()
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > tol {
			t.Fatalf("%s n=%d: element %d = %v, want %v", what, n, i, got[i], want[i])
		}
	}
}

// TestQuantizedAddRows checks that decoding quantized rows four
// sub-quantizers at a time, with each kernel set, gives exactly the sums of
// the row-by-row decoding (the C++ tool's order and rounding) for every
// layout of sub-quantizers.
func TestQuantizedAddRows(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, c := range []struct {
		dim, dsub int
		qnorm     bool
	}{{16, 2, true}, {16, 2, false}, {10, 2, true}, {9, 2, false}, {7, 2, true}, {18, 2, true}, {12, 4, true}, {40, 2, false}} {
		mat := &denseMatrix{m: 300, n: int64(c.dim), data: randVec(r, 300*c.dim)}
		q, err := quantize(mat, int32(c.dsub), c.qnorm)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]int32, 57)
		for i := range ids {
			ids[i] = int32(r.IntN(300))
		}
		want := randVec(r, c.dim)
		start := append([]float32(nil), want...)
		for _, id := range ids {
			q.pq.addCode(want, q.codes, id, q.norm(id))
		}
		forEachKernelSet(t, func(t *testing.T, k kernelSet) {
			saved := kernels
			kernels = k
			defer func() { kernels = saved }()
			got := append([]float32(nil), start...)
			q.addRows(got, ids)
			closeSlices(t, "addRows", c.dim, got, want, 0)
		})
	}
}

// TestExpfTable derives expfTab: 2^(i/32), the fifth repeated square root
// of 2^i, correctly rounded, minus i<<47.
func TestExpfTable(t *testing.T) {
	for i := range expfN {
		v := new(big.Float).SetPrec(256).SetMantExp(big.NewFloat(1).SetPrec(256), i)
		for range 5 {
			v.Sqrt(v)
		}
		f, _ := v.Float64()
		if want := math.Float64bits(f) - uint64(i)<<47; expfTab[i] != want {
			t.Errorf("expfTab[%d] = %#016x, want %#016x", i, expfTab[i], want)
		}
	}
}
