package sampling

import (
	"math"
	"testing"
)

func TestPermutationIsABijection(t *testing.T) {
	for _, n := range []uint64{1, 2, 3, 7, 100, 1000, 4097} {
		p := NewPermutation(n, 42)
		seen := make([]bool, n)
		moved := 0
		for i := uint64(0); i < n; i++ {
			j := p.At(i)
			if j >= n || seen[j] {
				t.Fatalf("n=%d: At(%d)=%d repeats or is out of range", n, i, j)
			}
			seen[j] = true
			if j != i {
				moved++
			}
		}
		if n >= 100 && moved < int(n)*9/10 {
			t.Errorf("n=%d: only %d of %d items moved", n, moved, n)
		}
	}
	a, b := NewPermutation(1000, 1), NewPermutation(1000, 2)
	same := 0
	for i := uint64(0); i < 1000; i++ {
		if a.At(i) == b.At(i) {
			same++
		}
	}
	if same > 20 {
		t.Errorf("different seeds agree on %d of 1000 positions", same)
	}
}

func TestAllocateIsExactAndProportional(t *testing.T) {
	counts := []int64{10, 0, 3, 1000, 7, 1}
	for target := int64(0); target <= 1021; target += 13 {
		q, err := Allocate(Seed(1, "x"), counts, target)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for i, v := range q {
			exact := float64(target) * float64(counts[i]) / 1021
			if v > counts[i] || math.Abs(float64(v)-exact) >= 1 {
				t.Fatalf("target %d: stratum %d gets %d of %d (exact share %.2f)", target, i, v, counts[i], exact)
			}
			sum += v
		}
		if sum != target {
			t.Fatalf("target %d: allocated %d", target, sum)
		}
	}
	if _, err := Allocate(1, []int64{1, 2}, 4); err == nil {
		t.Error("allocating more than available succeeded")
	}
}

func TestAllocateRemaindersAreUnbiased(t *testing.T) {
	// Three strata of 1 with target 1: each should win about a third of the time.
	wins := make([]int, 3)
	for s := int64(0); s < 3000; s++ {
		q, _ := Allocate(Seed(s), []int64{1, 1, 1}, 1)
		for i, v := range q {
			wins[i] += int(v)
		}
	}
	for i, w := range wins {
		if w < 850 || w > 1150 {
			t.Errorf("stratum %d won %d of 3000", i, w)
		}
	}
}

func TestSelectBySizeHitsTarget(t *testing.T) {
	r := NewRand(9)
	sizes := make([]int64, 5000)
	var total int64
	for i := range sizes {
		sizes[i] = 100 + int64(r.Uint64N(10000))
		total += sizes[i]
	}
	for _, rate := range []float64{0.01, 0.1, 0.5, 0.9} {
		keep := SelectBySize(Seed(3), sizes, rate*float64(total))
		var got int64
		first := 0
		for i, k := range keep {
			if k {
				got += sizes[i]
				if i < len(keep)/2 {
					first++
				}
			}
		}
		target := rate * float64(total)
		if math.Abs(float64(got)-target) > 10100 {
			t.Errorf("rate %v: kept %d bytes, target %.0f", rate, got, target)
		}
		_ = first
	}
}

func TestSelectCountAndStreams(t *testing.T) {
	keep := SelectCount(Seed(1, "a"), 100, 30)
	n := 0
	for _, k := range keep {
		if k {
			n++
		}
	}
	if n != 30 {
		t.Fatalf("kept %d, want 30", n)
	}
	if Seed(1, "a") == Seed(1, "b") || Seed(1, "a") == Seed(2, "a") || Seed(1, "a") != Seed(1, "a") {
		t.Error("seeds are not distinct per label and stable")
	}
}

func TestFraction(t *testing.T) {
	for _, tc := range []struct {
		spec  float64
		total int64
		want  int64
		ok    bool
	}{{0.1, 6500, 650, true}, {500, 6500, 500, true}, {0, 10, 0, true}, {1.5, 10, 0, false}, {20, 10, 0, false}, {-1, 10, 0, false}} {
		got, err := Fraction(tc.spec, tc.total)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Fraction(%v, %d) = %d, %v", tc.spec, tc.total, got, err)
		}
	}
}
