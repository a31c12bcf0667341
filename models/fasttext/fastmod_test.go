package fasttext

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFastMod checks both remainders against the % operator for divisors
// and numerators at the edges and at random.
func TestFastMod(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	divisors := []uint32{1, 2, 3, 7, 1000, 2000000, 2000003, 1 << 31, math.MaxInt32, math.MaxUint32 - 1, math.MaxUint32}
	for range 200 {
		divisors = append(divisors, r.Uint32()|1, uint32(r.IntN(5000000))+1)
	}
	for _, d := range divisors {
		f := newFastMod(d)
		a32 := []uint32{0, 1, d - 1, d, d + 1, math.MaxUint32, math.MaxUint32 - 1}
		a64 := []uint64{0, 1, uint64(d) - 1, uint64(d), math.MaxUint64, math.MaxUint64 - 1, 1 << 63, uint64(d) << 32}
		for range 2000 {
			a32 = append(a32, r.Uint32())
			a64 = append(a64, r.Uint64())
		}
		for _, a := range a32 {
			if got, want := f.mod32(a), a%d; got != want {
				t.Fatalf("%d mod %d = %d, want %d", a, d, got, want)
			}
		}
		for _, a := range a64 {
			if got, want := f.mod64(a), a%uint64(d); got != want {
				t.Fatalf("%d mod %d = %d, want %d", a, d, got, want)
			}
		}
	}
}
