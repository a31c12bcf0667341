package fasttext

import (
	"math"
	"math/big"
)

// expf is exp for float32 computed as glibc's expf computes it (the
// table-driven algorithm of ARM's optimized-routines used since glibc 2.28),
// so that probabilities match the C++ tool's in the last bit: a correctly
// rounded exp differs from it in rare cases, which would show in fastText's
// six-digit output.
func expf(x float32) float32 {
	xd := float64(x)
	abstop := math.Float32bits(x) >> 20 & 0x7ff
	if abstop >= 0x42b { // |x| >= 88 or NaN
		switch {
		case x == float32(math.Inf(-1)):
			return 0
		case abstop >= 0x7f8:
			return x + x
		case x > 0x1.62e42ep6:
			return float32(math.Inf(1))
		case x < -0x1.9fe368p6:
			return 0
		}
	}
	z := expfInvLn2N * xd
	kd := float64(z + expfShift)
	ki := math.Float64bits(kd)
	kd -= expfShift
	r := z - kd
	t := expfTab[ki%expfN] + ki<<(52-5)
	s := math.Float64frombits(t)
	zz := float64(expfC0*r) + expfC1
	r2 := r * r
	y := float64(expfC2*r) + 1
	y = float64(zz*r2) + y
	y = y * s
	return float32(y)
}

const (
	expfN       = 32
	expfShift   = 0x1.8p+52
	expfInvLn2N = 0x1.71547652b82fep+0 * expfN
	expfC0      = 0x1.c6af84b912394p-5 / expfN / expfN / expfN
	expfC1      = 0x1.ebfce50fac4f3p-3 / expfN / expfN
	expfC2      = 0x1.62e42ff0c52d6p-1 / expfN
)

// expfTab[i] holds the bits of 2^(i/32) (correctly rounded) minus i<<47, as
// glibc's __exp2f_data.tab does.
var expfTab = func() (tab [expfN]uint64) {
	for i := range tab {
		// 2^(i/32) is the fifth repeated square root of 2^i.
		v := new(big.Float).SetPrec(256).SetMantExp(big.NewFloat(1).SetPrec(256), i)
		for range 5 {
			v.Sqrt(v)
		}
		f, _ := v.Float64()
		tab[i] = math.Float64bits(f) - uint64(i)<<47
	}
	return tab
}()
