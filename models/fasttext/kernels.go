package fasttext

import "math"

// kernelSet is one implementation of the vector kernels on the hot paths of
// training and prediction. The generic set is plain Go and runs everywhere;
// kernels_amd64.go adds vectorised sets (AVX2 with FMA, AVX-512) and
// selects the best one the CPU supports at start-up. Every set computes the
// same functions; the sets differ in summation order and fused rounding,
// so their results agree to a few units in the last place, not bit for bit.
type kernelSet struct {
	name string
	// dot returns the dot product of a and b[:len(a)], in any order.
	dot func(a, b []float32) float32
	// rowUpdate does grad += alpha*w; w += alpha*hidden for one output row
	// (grad sees the old w).
	rowUpdate func(alpha float32, w, grad, hidden []float32)
	// gatherAdd adds rows ids of mat (rows of dim values) to dst, in order.
	gatherAdd func(dst, mat []float32, ids []int32, dim int)
	// scatterAdd adds src to rows ids of mat, in order.
	scatterAdd func(src, mat []float32, ids []int32, dim int)
	// dotRows sets out[i] to the dot product of row i of mat (rows of
	// len(x) values) with x. The vectorised sets need len(x) to be a
	// multiple of 16 (see padded); the dispatcher below checks.
	dotRows func(mat, x, out []float32)
	// rowsUpdate applies rowUpdate with alpha[i] to each row i of mat
	// (rows of len(hidden) values, a multiple of 16 for the vectorised
	// sets): grad += Σ alpha[i]*row_i; row_i += alpha[i]*hidden.
	rowsUpdate func(mat, alpha, hidden, grad []float32)
	// expShiftSum replaces each x[i] by exp(x[i] - max(x)) and returns
	// their sum: the numerators and denominator of a softmax. The
	// exponential is accurate to a few units in the last place.
	expShiftSum func(x []float32) float32
	// pqAddGroup decodes four sub-quantizers of two values of product
	// quantized rows ids into x[:8]: for each id in order, x[2j:2j+2] +=
	// alpha*centroids[2(256j+c):][:2] with c = codes[id*nsubq+j], where
	// alpha is normTab[normCodes[id]] (1 when normCodes is nil). Each
	// product is rounded before it is added, as the C++ tool does. The
	// caller checks the bounds (see quantMatrix.addRows).
	pqAddGroup func(x []float32, codes []uint8, nsubq int, centroids []float32, normCodes []uint8, normTab []float32, ids []int32)
}

var genericKernels = kernelSet{
	name:        "generic",
	dot:         dotFastGeneric,
	rowUpdate:   rowUpdateGeneric,
	gatherAdd:   gatherAddGeneric,
	scatterAdd:  scatterAddGeneric,
	dotRows:     dotRowsGeneric,
	rowsUpdate:  rowsUpdateGeneric,
	expShiftSum: expShiftSumGeneric,
	pqAddGroup:  pqAddGroupGeneric,
}

// prefetchRows asks the CPU to fetch rows ids of mat (rows of dim values)
// into its caches; kernels_amd64.go sets it (elsewhere it does nothing).
var prefetchRows = func(mat []float32, ids []int32, dim int) {}

// kernelSets lists the implementations this CPU can run, the generic one
// first and the fastest last (archKernelSets adds the vectorised ones).
var kernelSets = append([]kernelSet{genericKernels}, archKernelSets()...)

// kernels is the set in use: the last of kernelSets.
var kernels = kernelSets[len(kernelSets)-1]

// Kernels returns the name of the vector kernels in use ("generic",
// "avx2" or "avx512"), chosen at start-up from the CPU's features.
func Kernels() string { return kernels.name }

// padded returns n rounded up to a multiple of 16, the row length the
// vectorised dotRows and rowsUpdate work on without tail handling.
func padded(n int) int { return (n + 15) &^ 15 }

// dotRows is kernels.dotRows for any row length: rows whose length is not
// a multiple of 16 take the generic path.
func dotRows(mat, x, out []float32) {
	n := len(x)
	if len(mat) < len(out)*n {
		panic("fasttext: dotRows: matrix too short")
	}
	if n%16 != 0 {
		dotRowsGeneric(mat, x, out)
		return
	}
	kernels.dotRows(mat, x, out)
}

// rowsUpdate is kernels.rowsUpdate for any row length (see dotRows).
func rowsUpdate(mat, alpha, hidden, grad []float32) {
	n := len(hidden)
	if len(mat) < len(alpha)*n || len(grad) < n {
		panic("fasttext: rowsUpdate: matrix or gradient too short")
	}
	if n%16 != 0 {
		rowsUpdateGeneric(mat, alpha, hidden, grad)
		return
	}
	kernels.rowsUpdate(mat, alpha, hidden, grad)
}

func gatherAddGeneric(dst, mat []float32, ids []int32, dim int) {
	for _, id := range ids {
		off := int(id) * dim
		addGeneric(mat[off:off+dim], dst)
	}
}

func scatterAddGeneric(src, mat []float32, ids []int32, dim int) {
	for _, id := range ids {
		off := int(id) * dim
		addGeneric(src[:dim], mat[off:off+dim])
	}
}

func dotRowsGeneric(mat, x, out []float32) {
	n := len(x)
	for i := range out {
		out[i] = dotFastGeneric(mat[i*n:(i+1)*n], x)
	}
}

func rowsUpdateGeneric(mat, alpha, hidden, grad []float32) {
	n := len(hidden)
	for i, a := range alpha {
		rowUpdateGeneric(a, mat[i*n:(i+1)*n], grad, hidden)
	}
}

func pqAddGroupGeneric(x []float32, codes []uint8, nsubq int, centroids []float32, normCodes []uint8, normTab []float32, ids []int32) {
	x = x[:8]
	for _, id := range ids {
		alpha := float32(1)
		if normCodes != nil {
			alpha = normTab[normCodes[id]]
		}
		code := codes[int(id)*nsubq:][:4]
		for j, c := range code {
			off := (j*pqKsub + int(c)) * 2
			x[2*j] += float32(alpha * centroids[off])
			x[2*j+1] += float32(alpha * centroids[off+1])
		}
	}
}

func expShiftSumGeneric(x []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	mx := x[0]
	for _, v := range x {
		mx = max(mx, v)
	}
	var z float32
	for i, v := range x {
		e := expNonPositive(v - mx)
		x[i] = e
		z += e
	}
	return z
}

// Constants of expNonPositive and of the vectorised exponentials in
// kernels_amd64.s: Cody and Waite's reduction with ln 2 split in two, and
// Cephes' minimax polynomial for exp on [-ln2/2, ln2/2] (relative error
// below 2⁻²³).
const (
	expLowest = -87.33654 // below it, exp underflows to 0 (the smallest normal is e^-87.3365)
	expLog2e  = 1.44269504088896341
	expLn2Hi  = 0.693359375
	expLn2Lo  = -2.12194440e-4
	expShift  = 12582912.0 // 1.5×2²³: adding it rounds to an integer
	expP0     = 1.9875691500e-4
	expP1     = 1.3981999507e-3
	expP2     = 8.3334519073e-3
	expP3     = 4.1665795894e-2
	expP4     = 1.6666665459e-1
	expP5     = 5.0000001201e-1
)

// expNonPositive returns exp(x) for x <= 0 (NaN for NaN) in float32
// arithmetic, as the vectorised kernels compute it.
func expNonPositive(x float32) float32 {
	if !(x >= expLowest) {
		if x != x {
			return x
		}
		return 0
	}
	t := x*expLog2e + expShift
	n := t - expShift
	r := x - n*expLn2Hi
	r -= n * expLn2Lo
	p := float32(expP0)
	p = p*r + expP1
	p = p*r + expP2
	p = p*r + expP3
	p = p*r + expP4
	p = p*r + expP5
	p = p*(r*r) + r + 1
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}
