package fasttext

import "math"

// minstd reproduces std::minstd_rand (Park–Miller, multiplier 48271,
// modulus 2^31-1) and the libstdc++ distributions fastText draws from it, so
// that a seed gives the same stream of numbers as the C++ tool.
type minstd struct{ x uint64 }

const (
	minstdMod = 2147483647
	minstdMul = 48271
	// minstdRange is max()-min() of the engine (its outputs lie in [1, m-1]).
	minstdRange = minstdMod - 2
)

// newMinstd seeds the engine as linear_congruential_engine::seed does: the
// seed is reduced modulo m, and a zero state becomes 1.
func newMinstd(seed int64) minstd {
	x := uint64(seed) % minstdMod
	if x == 0 {
		x = 1
	}
	return minstd{x: x}
}

// next returns the engine's next output, in [1, 2^31-2].
func (r *minstd) next() uint64 {
	// x*a mod 2^31-1, reducing with the Mersenne identity instead of a
	// division.
	t := r.x * minstdMul
	t = (t & minstdMod) + (t >> 31)
	if t >= minstdMod {
		t -= minstdMod
	}
	r.x = t
	return t
}

// canonical reproduces std::generate_canonical<double, 53>: two engine
// outputs combined into a double in [0, 1).
func (r *minstd) canonical() float64 {
	const base = float64(minstdRange + 1)
	sum := float64(r.next() - 1)
	p := float64(float64(r.next()-1) * base)
	sum = float64(sum + p)
	ret := sum / (base * base)
	if ret >= 1 {
		ret = math.Nextafter(1, 0)
	}
	return ret
}

// uniformReal reproduces std::uniform_real_distribution<double>(a, b).
func (r *minstd) uniformReal(a, b float64) float64 {
	return float64(r.canonical()*(b-a)) + a
}

// uniformInt reproduces std::uniform_int_distribution over [lo, hi] with the
// libstdc++ rejection scheme for engines whose range is not 2^32.
func (r *minstd) uniformInt(lo, hi uint64) uint64 {
	const urngRange = uint64(minstdRange)
	urange := hi - lo
	var ret uint64
	switch {
	case urngRange > urange:
		uerange := urange + 1
		scaling := urngRange / uerange
		past := uerange * scaling
		for {
			ret = r.next() - 1
			if ret < past {
				break
			}
		}
		ret /= scaling
	case urngRange < urange:
		const uerngRange = urngRange + 1
		for {
			tmp := uerngRange * r.uniformInt(0, urange/uerngRange)
			ret = tmp + (r.next() - 1)
			if ret <= urange && ret >= tmp {
				break
			}
		}
	default:
		ret = r.next() - 1
	}
	return ret + lo
}

// normal reproduces a fresh std::normal_distribution<double>(mean, stddev)
// drawing one value (Marsaglia's polar method; the second value it makes is
// discarded with the distribution).
func (r *minstd) normal(mean, stddev float64) float64 {
	var x, y, r2 float64
	for {
		x = float64(2*r.canonical()) - 1
		y = float64(2*r.canonical()) - 1
		r2 = float64(x*x) + float64(y*y)
		if r2 <= 1 && r2 != 0 {
			break
		}
	}
	mult := math.Sqrt(-2 * math.Log(r2) / r2)
	return float64(y*mult*stddev) + mean
}

// shuffleInt32 reproduces std::shuffle of libstdc++ (GCC 10 and later),
// including its trick of drawing two swap positions from one number when
// the engine's range allows it.
func (r *minstd) shuffleInt32(v []int32) {
	n := uint64(len(v))
	if n == 0 {
		return
	}
	const urngRange = uint64(minstdRange)
	if urngRange/n >= n {
		i := uint64(1)
		if n%2 == 0 {
			j := r.uniformInt(0, 1)
			v[i], v[j] = v[j], v[i]
			i++
		}
		for i != n {
			swapRange := i + 1
			x := r.uniformInt(0, swapRange*(swapRange+1)-1)
			p1, p2 := x/(swapRange+1), x%(swapRange+1)
			v[i], v[p1] = v[p1], v[i]
			i++
			v[i], v[p2] = v[p2], v[i]
			i++
		}
		return
	}
	for i := uint64(1); i < n; i++ {
		j := r.uniformInt(0, i)
		v[i], v[j] = v[j], v[i]
	}
}
