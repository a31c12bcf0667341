package fasttext

// The kernels used on the hot paths. They are plain functions (not
// interfaces) so that the compiler can call them directly; kernels_amd64.go
// swaps in vectorised versions where the CPU supports them.
var (
	// dotFast returns the dot product of a and b[:len(a)], in any order.
	dotFast = dotFastGeneric
	// axpy adds alpha*x to y[:len(x)].
	axpy = axpyGeneric
	// add adds x to y[:len(x)].
	add = addGeneric
	// rowUpdate does grad += alpha*w; w += alpha*hidden for one output row.
	rowUpdate = rowUpdateGeneric
	// gatherAdd adds rows ids of mat (rows of dim values) to dst, in order.
	gatherAdd = gatherAddGeneric
	// scatterAdd adds src to rows ids of mat, in order.
	scatterAdd = scatterAddGeneric
)

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
