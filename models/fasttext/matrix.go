package fasttext

import (
	"fmt"
	"math"
	"runtime"
	"unsafe"

	"github.com/winnowlabs/winnow/internal/hugeheap"
)

// maxMatrixElems bounds the size a model file may declare for a matrix, so
// that a corrupt header fails with an error instead of a huge allocation.
const maxMatrixElems = 1 << 36

// mapMatrixMinBytes is the size from which a dense matrix is mapped from
// its file rather than read (where mapFloats can): below it, reading costs
// nothing worth saving.
const mapMatrixMinBytes = 64 << 20

// denseMatrix is a row-major m×n float32 matrix.
type denseMatrix struct {
	m, n int64
	data []float32
	// mapped is set when data is a private mapping of the model file
	// (see mapFloats), released when the matrix is unreachable.
	mapped bool
}

func newDenseMatrix(m, n int64) *denseMatrix {
	return &denseMatrix{m: m, n: n, data: make([]float32, m*n)}
}

// adviseHugePages asks for transparent huge pages under data before its
// pages are first written: an input matrix is large and read at random
// rows, so 2 MiB pages save page faults and TLB misses.
func adviseHugePages(data []float32) {
	if len(data) > 0 {
		hugeheap.Advise(unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*len(data)))
	}
}

// row returns row i (a view into the matrix).
func (d *denseMatrix) row(i int32) []float32 {
	off := int64(i) * d.n
	return d.data[off : off+d.n : off+d.n]
}

// withPaddedRows returns d with each row padded with zeros to a multiple
// of 16 values: d itself when its rows are already such a multiple, or a
// copy.
func (d *denseMatrix) withPaddedRows() *denseMatrix {
	stride := int64(padded(int(d.n)))
	if stride == d.n {
		return d
	}
	p := newDenseMatrix(d.m, stride)
	for i := range d.m {
		copy(p.row(int32(i)), d.row(int32(i)))
	}
	return p
}

// copyPaddedRows copies the rows of p, made by withPaddedRows, back into d.
func (d *denseMatrix) copyPaddedRows(p *denseMatrix) {
	if p == d {
		return
	}
	for i := range d.m {
		copy(d.row(int32(i)), p.row(int32(i)))
	}
}

// checkIDs panics unless every id indexes a row; the vector kernels rely
// on it.
func (d *denseMatrix) checkIDs(ids []int32) {
	for _, id := range ids {
		if id < 0 || int64(id) >= d.m {
			panic(fmt.Sprintf("fasttext: row %d out of range [0, %d)", id, d.m))
		}
	}
}

// addRowsTo adds rows ids to dst (len n), in order.
func (d *denseMatrix) addRowsTo(dst []float32, ids []int32) {
	d.checkIDs(ids)
	kernels.gatherAdd(dst[:d.n], d.data, ids, int(d.n))
	runtime.KeepAlive(d) // d.data may be a mapping released with d
}

// prefetchRowsAhead is how many of a line's input rows are fetched into
// the cache ahead of their use; the gather kernel prefetches the rest as
// it goes.
const prefetchRowsAhead = 16

// prefetchRows asks the CPU to fetch the first rows ids into its caches.
func (d *denseMatrix) prefetchRows(ids []int32) {
	ids = ids[:min(len(ids), prefetchRowsAhead)]
	d.checkIDs(ids)
	prefetchRows(d.data, ids, int(d.n))
	runtime.KeepAlive(d)
}

// addToRows adds src (len n) to rows ids, in order.
func (d *denseMatrix) addToRows(src []float32, ids []int32) {
	d.checkIDs(ids)
	kernels.scatterAdd(src[:d.n], d.data, ids, int(d.n))
	runtime.KeepAlive(d)
}

func (d *denseMatrix) save(w *binWriter) {
	w.i64(d.m)
	w.i64(d.n)
	w.f32s(d.data)
	runtime.KeepAlive(d)
}

func loadDenseMatrix(r *binReader) (*denseMatrix, error) {
	m, n := r.i64(), r.i64()
	if err := r.err(); err != nil {
		return nil, err
	}
	if m < 0 || n < 0 || (n > 0 && m > maxMatrixElems/n) {
		return nil, fmt.Errorf("invalid matrix shape %d×%d", m, n)
	}
	if r.file != nil {
		d := &denseMatrix{m: m, n: n}
		if data, ok := mapFloats(r.file, r.fileOffset(), m*n, d); ok {
			d.data, d.mapped = data, true
			if err := r.skip(4 * m * n); err != nil {
				return nil, fmt.Errorf("matrix %d×%d data: %w", m, n, err)
			}
			return d, nil
		}
	}
	d := newDenseMatrix(m, n)
	adviseHugePages(d.data) // before the pages are first written
	r.f32s(d.data)
	if err := r.err(); err != nil {
		return nil, fmt.Errorf("matrix %d×%d data: %w", m, n, err)
	}
	return d, nil
}

// l2NormRows returns each row's Euclidean norm, summed in float64 as
// DenseMatrix::l2NormRow does.
func (d *denseMatrix) l2NormRows() ([]float32, error) {
	norms := make([]float32, d.m)
	for i := range norms {
		var s float64
		for _, x := range d.row(int32(i)) {
			s += float64(x * x)
		}
		if math.IsNaN(s) {
			return nil, fmt.Errorf("row %d of the matrix holds NaN (training diverged)", i)
		}
		norms[i] = float32(math.Sqrt(s))
	}
	return norms, nil
}

// divideRows divides each row by its norm, leaving zero-norm rows alone.
func (d *denseMatrix) divideRows(norms []float32) {
	for i, v := range norms {
		if v == 0 {
			continue
		}
		r := d.row(int32(i))
		for j := range r {
			r[j] /= v
		}
	}
}

// quantMatrix is a product-quantized matrix: each row is a code per
// sub-vector, optionally with its norm quantized separately (qnorm).
type quantMatrix struct {
	qnorm     bool
	m, n      int64
	codesize  int32
	codes     []uint8
	pq        *productQuantizer
	normCodes []uint8
	npq       *productQuantizer
}

// norm returns row i's scale: its quantized norm, or 1.
func (q *quantMatrix) norm(i int32) float32 {
	if !q.qnorm {
		return 1
	}
	return q.npq.centroids[q.normCodes[i]]
}

// addRows adds rows ids to x, in order, as QuantMatrix::addRowToVector
// does for each (each element gets alpha*centroid rounded, then added).
// The leading sub-quantizers of two values go four at a time through
// kernels.pqAddGroup, which keeps the element order of these additions.
func (q *quantMatrix) addRows(x []float32, ids []int32) {
	for _, id := range ids {
		if id < 0 || int64(id) >= q.m {
			panic(fmt.Sprintf("fasttext: quantized row %d out of range [0, %d)", id, q.m))
		}
	}
	m0 := 0
	if groups := q.pq.pairGroups(); groups > 0 {
		nc, nt := []uint8(nil), []float32(nil)
		if q.qnorm {
			nc, nt = q.normCodes, q.npq.centroids[:pqKsub]
		}
		nsubq := int(q.pq.nsubq)
		for g := range groups {
			m := 4 * g
			kernels.pqAddGroup(x[2*m:2*m+8], q.codes[m:], nsubq, q.pq.centroids[m*pqKsub*2:], nc, nt, ids)
		}
		m0 = 4 * groups
	}
	if m0 < int(q.pq.nsubq) {
		for _, id := range ids {
			q.pq.addCodeFrom(x, q.codes, id, q.norm(id), m0)
		}
	}
}

// dotRow returns the dot product of row i and x.
func (q *quantMatrix) dotRow(x []float32, i int32) float32 {
	return q.pq.mulCode(x, q.codes, i, q.norm(i))
}

func (q *quantMatrix) save(w *binWriter) {
	w.bool(q.qnorm)
	w.i64(q.m)
	w.i64(q.n)
	w.i32(q.codesize)
	w.bytes(q.codes)
	q.pq.save(w)
	if q.qnorm {
		w.bytes(q.normCodes)
		q.npq.save(w)
	}
}

func loadQuantMatrix(r *binReader) (*quantMatrix, error) {
	q := &quantMatrix{qnorm: r.bool(), m: r.i64(), n: r.i64(), codesize: r.i32()}
	if err := r.err(); err != nil {
		return nil, err
	}
	if q.m < 0 || q.n <= 0 || q.codesize < 0 || q.m > maxMatrixElems {
		return nil, fmt.Errorf("invalid quantized matrix %d×%d with %d codes", q.m, q.n, q.codesize)
	}
	q.codes = make([]uint8, q.codesize)
	r.read(q.codes)
	pq, err := loadProductQuantizer(r)
	if err != nil {
		return nil, fmt.Errorf("product quantizer: %w", err)
	}
	q.pq = pq
	if int64(pq.dim) != q.n || int64(q.codesize) != q.m*int64(pq.nsubq) {
		return nil, fmt.Errorf("quantized matrix %d×%d does not match its quantizer (dim %d, %d sub-vectors, %d codes)", q.m, q.n, pq.dim, pq.nsubq, q.codesize)
	}
	if q.qnorm {
		q.normCodes = make([]uint8, q.m)
		r.read(q.normCodes)
		npq, err := loadProductQuantizer(r)
		if err != nil {
			return nil, fmt.Errorf("norm quantizer: %w", err)
		}
		if npq.dim != 1 {
			return nil, fmt.Errorf("norm quantizer has dimension %d, want 1", npq.dim)
		}
		q.npq = npq
	}
	if err := r.err(); err != nil {
		return nil, err
	}
	return q, nil
}

// quantize builds a quantized copy of mat with sub-vectors of dsub values;
// with qnorm the rows are normalised and their norms quantized separately.
// mat is modified (normalised) when qnorm is set.
func quantize(mat *denseMatrix, dsub int32, qnorm bool) (*quantMatrix, error) {
	q := &quantMatrix{
		qnorm:    qnorm,
		m:        mat.m,
		n:        mat.n,
		codesize: int32(mat.m * ((mat.n + int64(dsub) - 1) / int64(dsub))),
	}
	q.codes = make([]uint8, q.codesize)
	q.pq = newProductQuantizer(int32(mat.n), dsub)
	if qnorm {
		q.normCodes = make([]uint8, mat.m)
		q.npq = newProductQuantizer(1, 1)
		norms, err := mat.l2NormRows()
		if err != nil {
			return nil, err
		}
		mat.divideRows(norms)
		if err := q.npq.train(int32(mat.m), norms); err != nil {
			return nil, err
		}
		q.npq.computeCodes(norms, q.normCodes, int32(mat.m))
	}
	if err := q.pq.train(int32(mat.m), mat.data); err != nil {
		return nil, err
	}
	q.pq.computeCodes(mat.data, q.codes, int32(mat.m))
	return q, nil
}
