package fasttext

// This file reproduces the libstdc++ algorithms whose results fastText
// exposes: std::sort (an unstable introsort, which decides the order of
// dictionary entries with equal counts) and the binary-heap functions that
// decide the order of predictions with equal scores. Go's sort package would
// order ties differently.

// stlSort sorts v like libstdc++'s std::sort with the strict weak ordering
// less.
func stlSort[T any](v []T, less func(a, b *T) bool) {
	n := len(v)
	if n < 2 {
		return
	}
	depth := 0
	for k := n; k > 1; k >>= 1 {
		depth++
	}
	introsortLoop(v, 0, n, depth*2, less)
	finalInsertionSort(v, 0, n, less)
}

const stlThreshold = 16

func introsortLoop[T any](v []T, first, last, depthLimit int, less func(a, b *T) bool) {
	for last-first > stlThreshold {
		if depthLimit == 0 {
			heapSelect(v, first, last, last, less)
			sortHeapRange(v, first, last, less)
			return
		}
		depthLimit--
		cut := unguardedPartitionPivot(v, first, last, less)
		introsortLoop(v, cut, last, depthLimit, less)
		last = cut
	}
}

func unguardedPartitionPivot[T any](v []T, first, last int, less func(a, b *T) bool) int {
	mid := first + (last-first)/2
	moveMedianToFirst(v, first, first+1, mid, last-1, less)
	return unguardedPartition(v, first+1, last, first, less)
}

func moveMedianToFirst[T any](v []T, result, a, b, c int, less func(a, b *T) bool) {
	swap := func(i, j int) { v[i], v[j] = v[j], v[i] }
	if less(&v[a], &v[b]) {
		if less(&v[b], &v[c]) {
			swap(result, b)
		} else if less(&v[a], &v[c]) {
			swap(result, c)
		} else {
			swap(result, a)
		}
	} else if less(&v[a], &v[c]) {
		swap(result, a)
	} else if less(&v[b], &v[c]) {
		swap(result, c)
	} else {
		swap(result, b)
	}
}

func unguardedPartition[T any](v []T, first, last, pivot int, less func(a, b *T) bool) int {
	for {
		for less(&v[first], &v[pivot]) {
			first++
		}
		last--
		for less(&v[pivot], &v[last]) {
			last--
		}
		if first >= last {
			return first
		}
		v[first], v[last] = v[last], v[first]
		first++
	}
}

func finalInsertionSort[T any](v []T, first, last int, less func(a, b *T) bool) {
	if last-first > stlThreshold {
		insertionSort(v, first, first+stlThreshold, less)
		for i := first + stlThreshold; i < last; i++ {
			unguardedLinearInsert(v, i, less)
		}
		return
	}
	insertionSort(v, first, last, less)
}

func insertionSort[T any](v []T, first, last int, less func(a, b *T) bool) {
	if first == last {
		return
	}
	for i := first + 1; i < last; i++ {
		if less(&v[i], &v[first]) {
			val := v[i]
			copy(v[first+1:i+1], v[first:i])
			v[first] = val
		} else {
			unguardedLinearInsert(v, i, less)
		}
	}
}

func unguardedLinearInsert[T any](v []T, last int, less func(a, b *T) bool) {
	val := v[last]
	next := last - 1
	for less(&val, &v[next]) {
		v[last] = v[next]
		last = next
		next--
	}
	v[last] = val
}

// heapSelect is libstdc++'s __heap_select.
func heapSelect[T any](v []T, first, middle, last int, less func(a, b *T) bool) {
	makeHeap(v, first, middle, less)
	for i := middle; i < last; i++ {
		if less(&v[i], &v[first]) {
			popHeapInto(v, first, middle, i, less)
		}
	}
}

func makeHeap[T any](v []T, first, last int, less func(a, b *T) bool) {
	n := last - first
	if n < 2 {
		return
	}
	for parent := (n - 2) / 2; ; parent-- {
		val := v[first+parent]
		adjustHeap(v, first, parent, n, val, less)
		if parent == 0 {
			return
		}
	}
}

// sortHeapRange is std::sort_heap on v[first:last].
func sortHeapRange[T any](v []T, first, last int, less func(a, b *T) bool) {
	for last-first > 1 {
		last--
		popHeapInto(v, first, last, last, less)
	}
}

// popHeapInto is libstdc++'s __pop_heap(first, last, result).
func popHeapInto[T any](v []T, first, last, result int, less func(a, b *T) bool) {
	val := v[result]
	v[result] = v[first]
	adjustHeap(v, first, 0, last-first, val, less)
}

func adjustHeap[T any](v []T, first, hole, n int, val T, less func(a, b *T) bool) {
	top := hole
	second := hole
	for second < (n-1)/2 {
		second = 2 * (second + 1)
		if less(&v[first+second], &v[first+second-1]) {
			second--
		}
		v[first+hole] = v[first+second]
		hole = second
	}
	if n&1 == 0 && second == (n-2)/2 {
		second = 2 * (second + 1)
		v[first+hole] = v[first+second-1]
		hole = second - 1
	}
	pushHeapHole(v, first, hole, top, val, less)
}

func pushHeapHole[T any](v []T, first, hole, top int, val T, less func(a, b *T) bool) {
	parent := (hole - 1) / 2
	for hole > top && less(&v[first+parent], &val) {
		v[first+hole] = v[first+parent]
		hole = parent
		parent = (hole - 1) / 2
	}
	v[first+hole] = val
}
