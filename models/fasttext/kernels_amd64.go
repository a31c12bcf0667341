//go:build !purego

package fasttext

import "golang.org/x/sys/cpu"

// Vectorised kernels (AVX2 with fused multiply-add), in kernels_amd64.s.
// Their fused rounding and regrouped sums differ from the C++ tool in the
// last bits, so exact training and the sigmoid-table losses use the generic
// kernels.

//go:noescape
func dotAVX2(a, b []float32) float32

//go:noescape
func axpyAVX2(alpha float32, x, y []float32)

//go:noescape
func addAVX2(x, y []float32)

//go:noescape
func rowUpdateAVX2(alpha float32, w, grad, hidden []float32)

// gatherAddAVX2 adds rows ids of the row-major matrix mat (rows of dim) to
// dst, prefetching ahead; scatterAddAVX2 adds src to those rows. The caller
// checks the bounds (see denseMatrix.addRowsTo).
//
//go:noescape
func gatherAddAVX2(dst, mat []float32, ids []int32, dim int)

//go:noescape
func scatterAddAVX2(src, mat []float32, ids []int32, dim int)

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		dotFast = dotAVX2
		axpy = axpyAVX2
		add = addAVX2
		rowUpdate = rowUpdateAVX2
		gatherAdd = gatherAddAVX2
		scatterAdd = scatterAddAVX2
	}
}
