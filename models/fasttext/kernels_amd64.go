//go:build !purego

package fasttext

import "golang.org/x/sys/cpu"

// Vectorised kernels in kernels_amd64.s (AVX2 with fused multiply-add) and
// kernels_avx512_amd64.s (AVX-512 F). Their fused rounding and regrouped
// sums differ from the C++ tool in the last bits, so exact training and
// the sigmoid-table losses use the generic kernels. GODEBUG=cpu.avx512f=off
// or cpu.avx2=off (read by golang.org/x/sys/cpu) selects a lesser set, to
// measure or test it on a machine that has more.

//go:noescape
func dotAVX2(a, b []float32) float32

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

// The row kernels need len(x) and len(hidden) to be positive multiples of
// 16; the callers (dotRows, rowsUpdate) check it and the bounds.

//go:noescape
func dotRowsAVX2(mat, x, out []float32)

//go:noescape
func rowsUpdateAVX2(mat, alpha, hidden, grad []float32)

//go:noescape
func expShiftSumAVX2(x []float32) float32

//go:noescape
func pqAddGroupAVX2(x []float32, codes []uint8, nsubq int, centroids []float32, normCodes []uint8, normTab []float32, ids []int32)

//go:noescape
func dotAVX512(a, b []float32) float32

//go:noescape
func rowUpdateAVX512(alpha float32, w, grad, hidden []float32)

//go:noescape
func dotRowsAVX512(mat, x, out []float32)

//go:noescape
func rowsUpdateAVX512(mat, alpha, hidden, grad []float32)

//go:noescape
func expShiftSumAVX512(x []float32) float32

// prefetchRowsAMD64 prefetches every cache line of rows ids of mat (the
// caller checks the bounds).
//
//go:noescape
func prefetchRowsAMD64(mat []float32, ids []int32, dim int)

func init() { prefetchRows = prefetchRowsAMD64 }

// archKernelSets returns the vectorised kernel sets the CPU supports, the
// fastest last.
func archKernelSets() []kernelSet {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return nil
	}
	avx2 := kernelSet{
		name:        "avx2",
		dot:         dotAVX2,
		rowUpdate:   rowUpdateAVX2,
		gatherAdd:   gatherAddAVX2,
		scatterAdd:  scatterAddAVX2,
		dotRows:     dotRowsAVX2,
		rowsUpdate:  rowsUpdateAVX2,
		expShiftSum: expShiftSumAVX2,
		pqAddGroup:  pqAddGroupAVX2,
	}
	if !cpu.X86.HasAVX512F {
		return []kernelSet{avx2}
	}
	avx512 := avx2
	avx512.name = "avx512"
	avx512.dot = dotAVX512
	avx512.rowUpdate = rowUpdateAVX512
	avx512.dotRows = dotRowsAVX512
	avx512.rowsUpdate = rowsUpdateAVX512
	avx512.expShiftSum = expShiftSumAVX512
	return []kernelSet{avx2, avx512}
}
