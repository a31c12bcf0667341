package fasttext

import "math/bits"

// fastMod computes remainders by a fixed divisor below 2³² with
// multiplications instead of a division (Lemire, Kaser and Kurz, "Faster
// remainder by direct computation", 2019): every n-gram's bucket is a hash
// modulo the bucket count, and a 64-bit division costs tens of cycles on
// many CPUs.
type fastMod struct {
	d        uint64
	m32      uint64 // ⌈2⁶⁴/d⌉, for 32-bit numerators
	mhi, mlo uint64 // ⌈2¹²⁸/d⌉, for 64-bit numerators
}

// newFastMod prepares remainders by d (0 < d < 2³²).
func newFastMod(d uint32) fastMod {
	f := fastMod{d: uint64(d)}
	if d == 0 {
		return f
	}
	f.m32 = ^uint64(0)/f.d + 1
	// ⌊(2¹²⁸-1)/d⌋ + 1, by long division of the two 64-bit halves.
	hi, r := bits.Div64(0, ^uint64(0), f.d)
	lo, _ := bits.Div64(r, ^uint64(0), f.d)
	var c uint64
	f.mlo, c = bits.Add64(lo, 1, 0)
	f.mhi = hi + c
	return f
}

// mod32 returns a % d.
func (f *fastMod) mod32(a uint32) uint32 {
	hi, _ := bits.Mul64(f.m32*uint64(a), f.d)
	return uint32(hi)
}

// mod64 returns a % d.
func (f *fastMod) mod64(a uint64) uint64 {
	// low = M·a mod 2¹²⁸, then (low·d) >> 128.
	h, l := bits.Mul64(f.mlo, a)
	lowHi, lowLo := h+f.mhi*a, l
	hh, hl := bits.Mul64(lowHi, f.d)
	lh, _ := bits.Mul64(lowLo, f.d)
	_, c := bits.Add64(hl, lh, 0)
	return hh + c
}
