package fasttext

// scored is a label id with its log-probability, the element of fastText's
// prediction heap.
type scored struct {
	score float32
	id    int32
}

// The prediction heap is a min-heap on score kept with libstdc++'s
// push_heap/pop_heap/sort_heap and the comparison l.score > r.score, exactly
// as fastText keeps it, so that equal scores come out in the C++ tool's order.
// These are specialisations of the generic functions in stl.go for speed.

// heapPush appends x and restores the heap (push_back + std::push_heap).
func heapPush(h []scored, x scored) []scored {
	h = append(h, x)
	hole := len(h) - 1
	parent := (hole - 1) / 2
	for hole > 0 && h[parent].score > x.score {
		h[hole] = h[parent]
		hole = parent
		parent = (hole - 1) / 2
	}
	h[hole] = x
	return h
}

// heapPop removes the smallest element (std::pop_heap + pop_back).
func heapPop(h []scored) []scored {
	last := len(h) - 1
	if last > 0 {
		popInto(h[:last], last, h)
	}
	return h[:last]
}

// popInto is libstdc++'s __pop_heap(first, last, result) where h is
// [first, last) and result indexes full.
func popInto(h []scored, result int, full []scored) {
	val := full[result]
	full[result] = h[0]
	n := len(h)
	hole, second := 0, 0
	for second < (n-1)/2 {
		second = 2 * (second + 1)
		if h[second].score > h[second-1].score {
			second--
		}
		h[hole] = h[second]
		hole = second
	}
	if n&1 == 0 && second == (n-2)/2 {
		second = 2 * (second + 1)
		h[hole] = h[second-1]
		hole = second - 1
	}
	parent := (hole - 1) / 2
	for hole > 0 && h[parent].score > val.score {
		h[hole] = h[parent]
		hole = parent
		parent = (hole - 1) / 2
	}
	h[hole] = val
}

// heapSort orders a heap by decreasing score (std::sort_heap).
func heapSort(h []scored) {
	for last := len(h) - 1; last > 0; last-- {
		popInto(h[:last], last, h)
	}
}
