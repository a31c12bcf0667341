package fasttext

import "math"

// Lookup tables and helpers of fastText's loss.cc, computed with the same
// float32/float64 mix so that table entries are bit-identical.
const (
	sigmoidTableSize = 512
	maxSigmoid       = 8
	logTableSize     = 512
	negTableSize     = 10000000
)

var (
	sigmoidTable [sigmoidTableSize + 1]float32
	logTable     [logTableSize + 1]float32
)

func init() {
	for i := range sigmoidTable {
		x := float32(i*2*maxSigmoid)/sigmoidTableSize - maxSigmoid
		sigmoidTable[i] = float32(1.0 / (1.0 + float64(expf(-x))))
	}
	for i := range logTable {
		x := float32((float64(float32(i)) + 1e-5) / logTableSize)
		logTable[i] = float32(math.Log(float64(x)))
	}
}

// sigmoid is fastText's table-based logistic function. NaN (from a
// diverged model) stays NaN, so that the loss shows it.
func sigmoid(x float32) float32 {
	if x != x {
		return x
	}
	if x < -maxSigmoid {
		return 0
	}
	if x > maxSigmoid {
		return 1
	}
	i := int64((x + maxSigmoid) * sigmoidTableSize / maxSigmoid / 2)
	return sigmoidTable[i]
}

// tableLog is fastText's table-based logarithm of a probability (NaN for
// NaN).
func tableLog(x float32) float32 {
	if x > 1 {
		return 0
	}
	if x != x {
		return x
	}
	return logTable[int64(x*logTableSize)]
}

// stdLog is fastText's std_log: log(x + 1e-5) in double, rounded to float.
func stdLog(x float32) float32 {
	return float32(math.Log(float64(x) + 1e-5))
}

// hsNode is a node of the Huffman tree of hierarchical softmax.
type hsNode struct {
	parent, left, right int32
	count               int64
	binary              bool
}

// hsTree is the Huffman coding of the labels by frequency, with each leaf's
// path (internal node rows) and code (branch bits).
type hsTree struct {
	osz   int32
	nodes []hsNode
	paths [][]int32
	codes [][]bool
}

func buildHSTree(counts []int64) *hsTree {
	osz := int32(len(counts))
	t := &hsTree{osz: osz}
	if osz == 0 {
		return t
	}
	t.nodes = make([]hsNode, 2*osz-1)
	for i := range t.nodes {
		t.nodes[i] = hsNode{parent: -1, left: -1, right: -1, count: 1e15}
	}
	for i := int32(0); i < osz; i++ {
		t.nodes[i].count = counts[i]
	}
	leaf, node := osz-1, osz
	for i := osz; i < 2*osz-1; i++ {
		var mini [2]int32
		for j := 0; j < 2; j++ {
			if leaf >= 0 && t.nodes[leaf].count < t.nodes[node].count {
				mini[j] = leaf
				leaf--
			} else {
				mini[j] = node
				node++
			}
		}
		t.nodes[i].left, t.nodes[i].right = mini[0], mini[1]
		t.nodes[i].count = t.nodes[mini[0]].count + t.nodes[mini[1]].count
		t.nodes[mini[0]].parent = i
		t.nodes[mini[1]].parent = i
		t.nodes[mini[1]].binary = true
	}
	t.paths = make([][]int32, osz)
	t.codes = make([][]bool, osz)
	for i := int32(0); i < osz; i++ {
		for j := i; t.nodes[j].parent != -1; j = t.nodes[j].parent {
			t.paths[i] = append(t.paths[i], t.nodes[j].parent-osz)
			t.codes[i] = append(t.codes[i], t.nodes[j].binary)
		}
	}
	return t
}

// buildNegatives makes the negative-sampling table: each label repeated in
// proportion to the square root of its count.
func buildNegatives(counts []int64) []int32 {
	var z float32
	for _, c := range counts {
		z += float32(math.Pow(float64(c), 0.5))
	}
	var neg []int32
	for i, cnt := range counts {
		c := float32(math.Pow(float64(cnt), 0.5))
		limit := c * negTableSize / z
		for j := 0; float32(j) < limit; j++ {
			neg = append(neg, int32(i))
		}
	}
	return neg
}
