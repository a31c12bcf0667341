// Package sampling holds the seeded randomness behind sample, balance,
// import and reshard: stable hashes and generators (the same seed gives the
// same choices on every machine and Go version), exact-size row selection,
// stratified allocation of counts across shards, and a pseudo-random
// permutation that shuffles billions of rows without materialising them.
package sampling

import (
	"hash/fnv"
	"math"
	"sort"
)

// Seed derives a 64-bit seed from a user seed and labels (a path, a split
// name, ...), so every shard or label draws from its own stream.
func Seed(seed int64, labels ...string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(uint64(seed) >> (8 * i))
	}
	h.Write(b[:])
	for _, l := range labels {
		h.Write([]byte(l))
		h.Write([]byte{0})
	}
	return Mix(h.Sum64())
}

// Mix is the splitmix64 finaliser: a bijective scrambling of x.
func Mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Hash gives a stable pseudo-random value for item i of a stream.
func Hash(stream, i uint64) uint64 { return Mix(stream ^ Mix(i)) }

// Rand is a splitmix64 generator; its sequence depends only on the seed.
type Rand struct{ state uint64 }

// NewRand returns a generator seeded with seed.
func NewRand(seed uint64) *Rand { return &Rand{state: seed} }

// Uint64 returns the next value.
func (r *Rand) Uint64() uint64 {
	r.state += 0x9e3779b97f4a7c15
	x := r.state
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Float64 returns a value in [0, 1).
func (r *Rand) Float64() float64 { return float64(r.Uint64()>>11) / (1 << 53) }

// Uint64N returns a value in [0, n) without modulo bias.
func (r *Rand) Uint64N(n uint64) uint64 {
	if n == 0 {
		return 0
	}
	limit := math.MaxUint64 - math.MaxUint64%n
	for {
		if v := r.Uint64(); v < limit {
			return v % n
		}
	}
}

// RandomOrder returns 0..n-1 ordered by a stable pseudo-random priority drawn
// from stream: a uniformly random permutation.
func RandomOrder(stream uint64, n int) []int {
	type item struct {
		i int
		p uint64
	}
	items := make([]item, n)
	for i := range items {
		items[i] = item{i, Hash(stream, uint64(i))}
	}
	sort.Slice(items, func(a, b int) bool { return items[a].p < items[b].p })
	out := make([]int, n)
	for i, it := range items {
		out[i] = it.i
	}
	return out
}
