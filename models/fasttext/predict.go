package fasttext

import (
	"fmt"
	"math"
)

// Prediction is one predicted label and its probability.
type Prediction struct {
	Label string
	// Prob is the probability as fastText reports it: exp(log(p + 1e-5)),
	// so it may slightly exceed 1.
	Prob float32
	// ID is the label's index in Labels().
	ID int32
}

// predictState is the scratch space of one prediction.
type predictState struct {
	line   lineBuilder
	hidden []float32
	output []float32
	heap   []scored
}

func (m *Model) getState() *predictState {
	if s, ok := m.pool.Get().(*predictState); ok {
		return s
	}
	outRows, _ := m.outputShape()
	s := &predictState{
		hidden: make([]float32, m.args.Dim),
		output: make([]float32, outRows),
	}
	if m.dict.maxn > 0 {
		s.line.oov = newSubwordCache()
	}
	return s
}

// Predictor predicts with a model, reusing its scratch space between calls.
// It is not safe for concurrent use: give each goroutine its own (Model's
// methods do this through a pool).
type Predictor struct {
	m *Model
	s *predictState
}

// NewPredictor returns a Predictor for m.
func (m *Model) NewPredictor() *Predictor { return &Predictor{m: m, s: m.getState()} }

// Predict returns the k most probable labels of text (all labels when k < 1)
// whose probability is at least threshold, most probable first. text is one
// line: newlines count as spaces and the end-of-line token is appended, as
// in fastText's Python predict. Predict is safe for concurrent use.
func (m *Model) Predict(text string, k int, threshold float32) []Prediction {
	s := m.getState()
	out := m.predictText(s, text, k, threshold, nil)
	m.pool.Put(s)
	return out
}

// PredictBatch predicts each text as Predict does, reusing one scratch space
// for the whole batch; out[i] holds the predictions of texts[i].
func (m *Model) PredictBatch(texts []string, k int, threshold float32) [][]Prediction {
	s := m.getState()
	out := make([][]Prediction, len(texts))
	for i, t := range texts {
		out[i] = m.predictText(s, t, k, threshold, nil)
	}
	m.pool.Put(s)
	return out
}

// Predict is Model.Predict with the Predictor's scratch space.
func (p *Predictor) Predict(text string, k int, threshold float32) []Prediction {
	return p.m.predictText(p.s, text, k, threshold, nil)
}

// PredictBytes is Predict for a byte slice; it appends to dst (which may be
// nil) and so allocates nothing when dst has room.
func (p *Predictor) PredictBytes(dst []Prediction, text []byte, k int, threshold float32) []Prediction {
	stringLine(p.m.dict, &p.s.line, text)
	return p.m.predictLine(p.s, k, threshold, dst)
}

// AppendPredict is Predict appending to dst, which it returns; it allocates
// nothing when dst has room for the result.
func (p *Predictor) AppendPredict(dst []Prediction, text string, k int, threshold float32) []Prediction {
	return p.m.predictText(p.s, text, k, threshold, dst)
}

func (m *Model) predictText(s *predictState, text string, k int, threshold float32, dst []Prediction) []Prediction {
	stringLine(m.dict, &s.line, text)
	return m.predictLine(s, k, threshold, dst)
}

// predictLine predicts the labels of the line in s.line.
func (m *Model) predictLine(s *predictState, k int, threshold float32, dst []Prediction) []Prediction {
	s.heap = m.predictIDs(s, s.line.ids, k, threshold, s.heap[:0])
	for _, h := range s.heap {
		dst = append(dst, Prediction{Label: m.dict.labelName(h.id), Prob: expf(h.score), ID: h.id})
	}
	return dst
}

// predictIDs fills heap with the (log-probability, label) pairs of the best
// k labels for input rows ids, sorted by decreasing probability
// (Model::predict).
func (m *Model) predictIDs(s *predictState, ids []int32, k int, threshold float32, heap []scored) []scored {
	nl := int(m.dict.nlabels)
	if len(ids) == 0 || nl == 0 || m.args.Model != ModelSupervised {
		return heap
	}
	if k < 1 || k > nl {
		k = nl
	}
	m.computeHidden(ids, s.hidden)
	switch m.args.Loss {
	case LossHS:
		heap = m.hsPredict(k, threshold, heap, s.hidden)
	case LossSoftmax:
		m.softmaxOutput(s.hidden, s.output[:nl])
		heap = findKBest(k, threshold, heap, s.output[:nl])
	default:
		m.sigmoidOutput(s.hidden, s.output[:nl])
		heap = findKBest(k, threshold, heap, s.output[:nl])
	}
	heapSort(heap)
	return heap
}

// computeHidden averages the input rows ids into hidden.
func (m *Model) computeHidden(ids []int32, hidden []float32) {
	zero(hidden)
	if m.qinput != nil {
		m.qinput.addRows(hidden, ids)
	} else {
		m.input.addRowsTo(hidden, ids)
	}
	scale(float32(1.0/float64(len(ids))), hidden)
}

// outputDot returns the dot product of output row i with hidden, summed in
// the C++ tool's order so that predictions are bit-identical to its own
// (the output layer is a small part of the cost for all but models with
// hundreds of labels).
func (m *Model) outputDot(i int32, hidden []float32) float32 {
	if m.qoutput != nil {
		return m.qoutput.dotRow(hidden, i)
	}
	return dotSeq(m.output.row(i), hidden)
}

// softmaxOutput computes the softmax of the output layer.
func (m *Model) softmaxOutput(hidden, out []float32) {
	for i := range out {
		out[i] = m.outputDot(int32(i), hidden)
	}
	softmaxInPlace(out)
}

func softmaxInPlace(out []float32) {
	mx := out[0]
	for _, v := range out {
		mx = max(v, mx)
	}
	var z float32
	for i, v := range out {
		e := float32(math.Exp(float64(v - mx)))
		out[i] = e
		z += e
	}
	for i := range out {
		out[i] /= z
	}
}

// sigmoidOutput computes the independent label probabilities of ns and ova
// through fastText's sigmoid table.
func (m *Model) sigmoidOutput(hidden, out []float32) {
	for i := range out {
		out[i] = sigmoid(m.outputDot(int32(i), hidden))
	}
}

// findKBest keeps the k best outputs at or above threshold in a heap
// (Loss::findKBest).
func findKBest(k int, threshold float32, heap []scored, out []float32) []scored {
	for i, v := range out {
		if v < threshold {
			continue
		}
		lp := stdLog(v)
		if len(heap) == k && lp < heap[0].score {
			continue
		}
		heap = heapPush(heap, scored{score: lp, id: int32(i)})
		if len(heap) > k {
			heap = heapPop(heap)
		}
	}
	return heap
}

// hsPredict searches the hierarchical softmax tree depth first, pruning
// branches below the threshold or the current k-th best.
func (m *Model) hsPredict(k int, threshold float32, heap []scored, hidden []float32) []scored {
	t := m.hs
	if t.osz == 0 {
		return heap
	}
	return m.hsDFS(k, stdLog(threshold), 2*t.osz-2, 0, heap, hidden)
}

func (m *Model) hsDFS(k int, logThreshold float32, node int32, score float32, heap []scored, hidden []float32) []scored {
	if score < logThreshold {
		return heap
	}
	if len(heap) == k && score < heap[0].score {
		return heap
	}
	n := &m.hs.nodes[node]
	if n.left == -1 && n.right == -1 {
		heap = heapPush(heap, scored{score: score, id: node})
		if len(heap) > k {
			heap = heapPop(heap)
		}
		return heap
	}
	f := m.outputDot(node-m.hs.osz, hidden)
	f = float32(1.0 / float64(1+expf(-f)))
	heap = m.hsDFS(k, logThreshold, n.left, score+stdLog(float32(1.0-float64(f))), heap, hidden)
	heap = m.hsDFS(k, logThreshold, n.right, score+stdLog(f), heap, hidden)
	return heap
}

// SentenceVector returns the average of the input vectors of text's words,
// subwords and word n-grams, read as one line like Predict
// (FastText::getSentenceVector for supervised models).
func (m *Model) SentenceVector(text string) []float32 {
	s := m.getState()
	defer m.pool.Put(s)
	stringLine(m.dict, &s.line, text)
	vec := make([]float32, m.args.Dim)
	if len(s.line.ids) > 0 {
		m.computeHidden(s.line.ids, vec)
	}
	return vec
}

// WordVector returns the vector of word w: the average of its own row (if
// in the vocabulary) and its character n-gram rows (FastText::getWordVector).
func (m *Model) WordVector(w string) []float32 {
	d := m.dict
	var ids []int32
	if id := d.id(w); id >= 0 {
		if d.maxn > 0 {
			ids = d.subwords(id)
		} else {
			ids = []int32{id}
		}
	} else if w != EOS && d.maxn > 0 {
		ids = d.computeSubwords([]byte("<"+w+">"), nil)
	}
	vec := make([]float32, m.args.Dim)
	if len(ids) > 0 {
		m.computeHidden(ids, vec)
	}
	return vec
}

// checkK validates k as the fastText command line does: -1 means all labels.
func checkK(k int) error {
	if k == 0 || k < -1 {
		return fmt.Errorf("k needs to be 1 or higher (or -1 for all labels), got %d", k)
	}
	return nil
}
