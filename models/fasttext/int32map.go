package fasttext

// int32Map is an open-addressing hash map from non-negative int32 keys to
// int32 values, used for the prune index of quantized models, which is
// consulted for every hashed n-gram at prediction time. Keys and values sit
// side by side so that a lookup touches one cache line; the keys are hash
// buckets, uniformly spread already, so the slot is the key's low bits.
type int32Map struct {
	slots []mapSlot
	mask  uint32
	// present has a bit per key below limit; most lookups (n-grams whose
	// bucket was pruned) stop at this small bitmap.
	present []uint64
}

type mapSlot struct{ key, val int32 } // key -1 marks an empty slot

// newInt32Map returns a map for n keys, all below limit.
func newInt32Map(n int, limit int) int32Map {
	size := 16
	for size < 2*n { // load factor at most 1/2
		size <<= 1
	}
	m := int32Map{slots: make([]mapSlot, size), mask: uint32(size - 1),
		present: make([]uint64, (limit+63)/64)}
	for i := range m.slots {
		m.slots[i].key = -1
	}
	return m
}

// put sets m[k] = v; k must be in [0, limit) and m not full.
func (m *int32Map) put(k, v int32) {
	m.present[k>>6] |= 1 << (k & 63)
	i := uint32(k) & m.mask
	for m.slots[i].key >= 0 && m.slots[i].key != k {
		i = (i + 1) & m.mask
	}
	m.slots[i] = mapSlot{k, v}
}

// mayHave reports whether k's bit is set in the bitmap: false means k is
// not in m, which most lookups (pruned n-grams) learn from it alone.
func (m *int32Map) mayHave(k int32) bool {
	w := uint32(k) >> 6
	return w < uint32(len(m.present)) && m.present[w]&(1<<(uint32(k)&63)) != 0
}

// get returns m[k].
func (m *int32Map) get(k int32) (int32, bool) {
	if !m.mayHave(k) {
		return 0, false
	}
	for i := uint32(k) & m.mask; ; i = (i + 1) & m.mask {
		s := m.slots[i]
		if s.key == k {
			return s.val, true
		}
		if s.key < 0 {
			return 0, false
		}
	}
}
