package fasttext

// Vector kernels on float32 slices. The sequential dot product adds the
// products in index order, as the C++ tool does, and is used wherever a result
// must be bit-identical to it (the sigmoid lookup tables of ns and ova quantise
// scores, and training in exact mode). The other kernels are elementwise, so
// unrolling them does not change their results; dotFast regroups the sum for
// speed. The explicit float32 conversions keep the compiler from fusing a
// multiply and an add into one rounding (it may do so on some architectures),
// which would change results.

// dotSeq returns the dot product of a and b[:len(a)] summed in index order.
func dotSeq(a, b []float32) float32 {
	b = b[:len(a)]
	var s float32
	for i, x := range a {
		s += float32(x * b[i])
	}
	return s
}

// dotFastGeneric returns the dot product of a and b[:len(a)] with four
// partial sums.
func dotFastGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		aa := a[i : i+4 : i+4]
		bb := b[i : i+4 : i+4]
		s0 += float32(aa[0] * bb[0])
		s1 += float32(aa[1] * bb[1])
		s2 += float32(aa[2] * bb[2])
		s3 += float32(aa[3] * bb[3])
	}
	for ; i < len(a); i++ {
		s0 += float32(a[i] * b[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// addGeneric adds x to y[:len(x)].
func addGeneric(x, y []float32) {
	y = y[:len(x)]
	i := 0
	for ; i+4 <= len(x); i += 4 {
		xx := x[i : i+4 : i+4]
		yy := y[i : i+4 : i+4]
		yy[0] += xx[0]
		yy[1] += xx[1]
		yy[2] += xx[2]
		yy[3] += xx[3]
	}
	for ; i < len(x); i++ {
		y[i] += x[i]
	}
}

// rowUpdateGeneric is one output row's backward step, fused: with w the
// row's old values, grad += alpha*w and w += alpha*hidden. The C++ tool does
// the same in two passes (grad first, so grad sees the old row).
func rowUpdateGeneric(alpha float32, w, grad, hidden []float32) {
	grad = grad[:len(w)]
	hidden = hidden[:len(w)]
	for i, x := range w {
		grad[i] += float32(alpha * x)
		w[i] = x + float32(alpha*hidden[i])
	}
}

// scale multiplies x by a.
func scale(a float32, x []float32) {
	for i := range x {
		x[i] *= a
	}
}

// zero clears x.
func zero(x []float32) {
	clear(x)
}
