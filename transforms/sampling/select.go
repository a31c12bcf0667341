package sampling

import (
	"fmt"
	"math"
	"math/bits"
)

// SelectBySize picks rows, in the random order given by stream, until their
// sizes add up to target, stopping at whichever of the last two sums is
// closer. It returns a keep flag per row. Every subset is drawn uniformly
// from the whole shard, not from its head.
func SelectBySize(stream uint64, sizes []int64, target float64) []bool {
	keep := make([]bool, len(sizes))
	if target <= 0 {
		return keep
	}
	var sum float64
	for _, i := range RandomOrder(stream, len(sizes)) {
		next := sum + float64(sizes[i])
		if next >= target {
			if next-target <= target-sum {
				keep[i] = true
			}
			break
		}
		keep[i] = true
		sum = next
	}
	return keep
}

// SelectCount picks exactly k of the n items uniformly at random (stream
// gives the order) and returns a keep flag per item.
func SelectCount(stream uint64, n, k int) []bool {
	keep := make([]bool, n)
	if k > n {
		k = n
	}
	for _, i := range RandomOrder(stream, n)[:k] {
		keep[i] = true
	}
	return keep
}

// Allocate splits a total of target items among strata holding counts items,
// proportionally: each stratum gets the floor of its exact share, and the
// remainder goes to strata drawn with probability equal to their fractional
// share (systematic sampling, seeded by stream). The result sums to target
// exactly and never exceeds a stratum's count.
func Allocate(stream uint64, counts []int64, target int64) ([]int64, error) {
	var total int64
	for _, c := range counts {
		if c < 0 {
			return nil, fmt.Errorf("negative count %d", c)
		}
		total += c
	}
	if target < 0 || target > total {
		return nil, fmt.Errorf("cannot take %d of %d items", target, total)
	}
	out := make([]int64, len(counts))
	if total == 0 {
		return out, nil
	}
	// share_i = target*c_i/total = floor_i + rem_i/total, in 128-bit integers.
	rems := make([]uint64, len(counts))
	var given int64
	for i, c := range counts {
		hi, lo := bits.Mul64(uint64(target), uint64(c))
		q, r := bits.Div64(hi, lo, uint64(total))
		out[i], rems[i] = int64(q), r
		given += int64(q)
	}
	left := target - given // 0 <= left < len(counts); sum(rems) == left*total
	if left == 0 {
		return out, nil
	}
	// Systematic sampling over the remainders: one random start u in
	// [0,total), then every total-th point.
	u := NewRand(stream).Uint64N(uint64(total))
	var cum uint64
	for i, r := range rems {
		lo, hi := cum, cum+r
		// Points u + k*total that fall in [lo, hi).
		for p := firstPoint(u, uint64(total), lo); p < hi; p += uint64(total) {
			out[i]++
			left--
		}
		cum = hi
	}
	if left != 0 {
		return nil, fmt.Errorf("internal error: allocation is off by %d", left)
	}
	return out, nil
}

// firstPoint returns the smallest u + k*step >= lo.
func firstPoint(u, step, lo uint64) uint64 {
	if u >= lo {
		return u
	}
	k := (lo - u + step - 1) / step
	return u + k*step
}

// Permutation is a pseudo-random bijection of [0, n), computed pointwise
// with a Feistel network and cycle walking: row g of a dataset goes to
// position At(g) of its shuffled order, with no global sort.
type Permutation struct {
	n        uint64
	halfBits uint
	mask     uint64
	keys     [6]uint64
}

// NewPermutation returns a permutation of [0, n) determined by seed.
func NewPermutation(n, seed uint64) *Permutation {
	p := &Permutation{n: n}
	b := uint(bits.Len64(n))
	if b < 2 {
		b = 2
	}
	if b%2 == 1 {
		b++
	}
	p.halfBits = b / 2
	p.mask = (1 << p.halfBits) - 1
	r := NewRand(seed)
	for i := range p.keys {
		p.keys[i] = r.Uint64()
	}
	return p
}

// N returns the permutation's size.
func (p *Permutation) N() uint64 { return p.n }

// At returns the position of i (i < n).
func (p *Permutation) At(i uint64) uint64 {
	if i >= p.n {
		panic(fmt.Sprintf("permutation index %d out of range [0,%d)", i, p.n))
	}
	x := p.round(i)
	for x >= p.n {
		x = p.round(x)
	}
	return x
}

func (p *Permutation) round(x uint64) uint64 {
	l, r := x>>p.halfBits, x&p.mask
	for _, k := range p.keys {
		l, r = r, l^(Mix(r^k)&p.mask)
	}
	return l<<p.halfBits | r
}

// Fraction parses a split size: a fraction in (0,1) of total, or a whole
// count of rows (e.g. "0.1" or "500").
func Fraction(spec float64, total int64) (int64, error) {
	switch {
	case spec < 0:
		return 0, fmt.Errorf("split size %v is negative", spec)
	case spec > 0 && spec < 1:
		return int64(math.Round(spec * float64(total))), nil
	case spec == math.Trunc(spec):
		if int64(spec) > total {
			return 0, fmt.Errorf("split size %d is larger than the %d rows available", int64(spec), total)
		}
		return int64(spec), nil
	}
	return 0, fmt.Errorf("split size %v must be a fraction below 1 or a whole number of rows", spec)
}
