package fasttext

import "fmt"

// Product quantization as in fastText's productquantizer.cc: each vector is
// split into sub-vectors of dsub values (the last one may be shorter), and
// each sub-vector is replaced by the index of the nearest of 256 centroids
// learnt by k-means.
const (
	pqKsub                = 256
	pqMaxPointsPerCluster = 256
	pqMaxPoints           = pqMaxPointsPerCluster * pqKsub
	pqSeed                = 1234
	pqNiter               = 25
	pqEps                 = 1e-7
)

type productQuantizer struct {
	dim, nsubq, dsub, lastdsub int32
	centroids                  []float32
	rng                        minstd
}

func newProductQuantizer(dim, dsub int32) *productQuantizer {
	p := &productQuantizer{
		dim: dim, nsubq: dim / dsub, dsub: dsub,
		centroids: make([]float32, int(dim)*pqKsub),
		rng:       newMinstd(pqSeed),
	}
	p.lastdsub = dim % dsub
	if p.lastdsub == 0 {
		p.lastdsub = dsub
	} else {
		p.nsubq++
	}
	return p
}

// centroidOffset returns the offset of centroid i of sub-quantizer m.
func (p *productQuantizer) centroidOffset(m int32, i uint8) int {
	if m == p.nsubq-1 {
		return int(m)*pqKsub*int(p.dsub) + int(i)*int(p.lastdsub)
	}
	return (int(m)*pqKsub + int(i)) * int(p.dsub)
}

// centroid returns centroid i of sub-quantizer m.
func (p *productQuantizer) centroid(m int32, i uint8) []float32 {
	d := p.dsub
	if m == p.nsubq-1 {
		d = p.lastdsub
	}
	off := p.centroidOffset(m, i)
	return p.centroids[off : off+int(d)]
}

// addCode adds alpha times the decoded row t to x.
func (p *productQuantizer) addCode(x []float32, codes []uint8, t int32, alpha float32) {
	p.addCodeFrom(x, codes, t, alpha, 0)
}

// addCodeFrom is addCode for the sub-quantizers from m0 on.
func (p *productQuantizer) addCodeFrom(x []float32, codes []uint8, t int32, alpha float32, m0 int) {
	nsubq := int(p.nsubq)
	code := codes[nsubq*int(t):][:nsubq]
	dsub := int(p.dsub)
	full := nsubq - 1 // sub-quantizers of dsub values; the last may be shorter
	if p.lastdsub == p.dsub {
		full = nsubq
	}
	if dsub == 2 {
		for m := m0; m < full; m++ {
			off := (m*pqKsub + int(code[m])) * 2
			c := p.centroids[off : off+2 : off+2]
			xs := x[2*m : 2*m+2 : 2*m+2]
			xs[0] += float32(alpha * c[0])
			xs[1] += float32(alpha * c[1])
		}
	} else {
		for m := m0; m < full; m++ {
			off := (m*pqKsub + int(code[m])) * dsub
			c := p.centroids[off : off+dsub : off+dsub]
			xs := x[m*dsub:][:dsub]
			for n, v := range c {
				xs[n] += float32(alpha * v)
			}
		}
	}
	if full < nsubq && m0 <= full {
		m := int32(full)
		c := p.centroid(m, code[m])
		xs := x[full*dsub:][:len(c)]
		for n, v := range c {
			xs[n] += float32(alpha * v)
		}
	}
}

// pairGroups returns how many groups of four leading sub-quantizers of two
// values each the vectorised pqAddGroup can decode: the whole row but for
// up to three sub-quantizers and a shorter last one.
func (p *productQuantizer) pairGroups() int {
	if p.dsub != 2 {
		return 0
	}
	full := int(p.nsubq)
	if p.lastdsub != p.dsub {
		full--
	}
	return full / 4
}

// mulCode returns alpha times the dot product of x and the decoded row t,
// summed in order.
func (p *productQuantizer) mulCode(x []float32, codes []uint8, t int32, alpha float32) float32 {
	code := codes[int(p.nsubq)*int(t):][:p.nsubq]
	dsub := int(p.dsub)
	var res float32
	for m := int32(0); m < p.nsubq; m++ {
		c := p.centroid(m, code[m])
		xs := x[int(m)*dsub:][:len(c)]
		for n, v := range c {
			res += float32(xs[n] * v)
		}
	}
	return res * alpha
}

func distL2(x, y []float32) float32 {
	y = y[:len(x)]
	var dist float32
	for i, v := range x {
		t := v - y[i]
		dist += float32(t * t)
	}
	return dist
}

// assignCentroid returns the index of the centroid (of length d, stored from
// c0) nearest to x.
func assignCentroid(x, c0 []float32, d int) uint8 {
	code := uint8(0)
	dis := distL2(x[:d], c0[:d])
	for j := 1; j < pqKsub; j++ {
		dij := distL2(x[:d], c0[j*d:j*d+d])
		if dij < dis {
			code, dis = uint8(j), dij
		}
	}
	return code
}

func (p *productQuantizer) mStep(x0, centroids []float32, codes []uint8, d, n int) {
	nelts := make([]int32, pqKsub)
	clear(centroids[:d*pqKsub])
	for i := 0; i < n; i++ {
		k := int(codes[i])
		c := centroids[k*d : k*d+d]
		x := x0[i*d : i*d+d]
		for j := range c {
			c[j] += x[j]
		}
		nelts[k]++
	}
	for k := 0; k < pqKsub; k++ {
		z := float32(nelts[k])
		if z != 0 {
			c := centroids[k*d : k*d+d]
			for j := range c {
				c[j] /= z
			}
		}
	}
	for k := 0; k < pqKsub; k++ {
		if nelts[k] != 0 {
			continue
		}
		m := 0
		for p.rng.uniformReal(0, 1)*float64(n-pqKsub) >= float64(nelts[m]-1) {
			m = (m + 1) % pqKsub
		}
		copy(centroids[k*d:k*d+d], centroids[m*d:m*d+d])
		for j := 0; j < d; j++ {
			sign := float32((j%2)*2 - 1)
			centroids[k*d+j] += sign * pqEps
			centroids[m*d+j] -= sign * pqEps
		}
		nelts[k] = nelts[m] / 2
		nelts[m] -= nelts[k]
	}
}

func (p *productQuantizer) kmeans(x, c []float32, n, d int) {
	perm := make([]int32, n)
	for i := range perm {
		perm[i] = int32(i)
	}
	p.rng.shuffleInt32(perm)
	for i := 0; i < pqKsub; i++ {
		copy(c[i*d:i*d+d], x[int(perm[i])*d:int(perm[i])*d+d])
	}
	codes := make([]uint8, n)
	for it := 0; it < pqNiter; it++ {
		for i := 0; i < n; i++ {
			codes[i] = assignCentroid(x[i*d:i*d+d], c, d)
		}
		p.mStep(x, c, codes, d, n)
	}
}

// train learns the centroids from the n rows of x.
func (p *productQuantizer) train(n int32, x []float32) error {
	if n < pqKsub {
		return fmt.Errorf("matrix too small for quantization: %d rows, need at least %d", n, pqKsub)
	}
	perm := make([]int32, n)
	for i := range perm {
		perm[i] = int32(i)
	}
	d := int(p.dsub)
	np := min(int(n), pqMaxPoints)
	xslice := make([]float32, np*int(p.dsub))
	for m := int32(0); m < p.nsubq; m++ {
		if m == p.nsubq-1 {
			d = int(p.lastdsub)
		}
		if np != int(n) {
			p.rng.shuffleInt32(perm)
		}
		for j := 0; j < np; j++ {
			src := int(perm[j])*int(p.dim) + int(m)*int(p.dsub)
			copy(xslice[j*d:j*d+d], x[src:src+d])
		}
		off := p.centroidOffset(m, 0)
		p.kmeans(xslice[:np*d], p.centroids[off:off+pqKsub*d], np, d)
	}
	return nil
}

// computeCodes encodes the n rows of x.
func (p *productQuantizer) computeCodes(x []float32, codes []uint8, n int32) {
	for i := 0; i < int(n); i++ {
		row := x[i*int(p.dim):]
		code := codes[i*int(p.nsubq):]
		d := int(p.dsub)
		for m := int32(0); m < p.nsubq; m++ {
			if m == p.nsubq-1 {
				d = int(p.lastdsub)
			}
			off := p.centroidOffset(m, 0)
			code[m] = assignCentroid(row[int(m)*int(p.dsub):], p.centroids[off:], d)
		}
	}
}

func (p *productQuantizer) save(w *binWriter) {
	w.i32(p.dim)
	w.i32(p.nsubq)
	w.i32(p.dsub)
	w.i32(p.lastdsub)
	w.f32s(p.centroids)
}

func loadProductQuantizer(r *binReader) (*productQuantizer, error) {
	p := &productQuantizer{dim: r.i32(), nsubq: r.i32(), dsub: r.i32(), lastdsub: r.i32()}
	if err := r.err(); err != nil {
		return nil, err
	}
	if p.dim <= 0 || p.dsub <= 0 || p.nsubq <= 0 || p.lastdsub <= 0 || p.lastdsub > p.dsub ||
		int64(p.nsubq-1)*int64(p.dsub)+int64(p.lastdsub) != int64(p.dim) {
		return nil, fmt.Errorf("invalid quantizer: dim %d, %d sub-vectors of %d (last %d)", p.dim, p.nsubq, p.dsub, p.lastdsub)
	}
	p.centroids = make([]float32, int(p.dim)*pqKsub)
	r.f32s(p.centroids)
	return p, r.err()
}
