package fasttext

import "io"

// LineReader reads labelled or unlabelled lines from a stream exactly as the
// C++ tool reads its input files: tokens split on whitespace, a newline ends
// a line (and is part of it as the end-of-sentence token), and a final line
// without a newline still counts.
type LineReader struct {
	m    *Model
	tr   *tokenReader
	line lineBuilder
}

// NewLineReader returns a LineReader for m's dictionary over r. It
// remembers the character n-gram rows of the out-of-vocabulary words it
// meets, as a Predictor does.
func NewLineReader(m *Model, r io.Reader) *LineReader {
	l := &LineReader{m: m, tr: newTokenReader(r, 1<<16)}
	if m.dict.maxn > 0 {
		l.line.oov = newSubwordCache()
	}
	return l
}

// Next reads the next line; it returns false at the end of the input or on
// a read error (see Err).
func (l *LineReader) Next() bool {
	if l.tr.atEOF() {
		return false
	}
	l.m.dict.readLine(l.tr, &l.line)
	return true
}

// Err returns the read error that stopped Next, if any.
func (l *LineReader) Err() error { return l.tr.readErr() }

// LabelIDs returns the known labels of the current line (indexes into
// Model.Labels); the slice is reused by the next call to Next.
func (l *LineReader) LabelIDs() []int32 { return l.line.labels }

// SentenceVector stores the current line's sentence vector in dst (of
// length Model.Dim): the average of its input rows, or zeros.
func (l *LineReader) SentenceVector(dst []float32) {
	if len(l.line.ids) == 0 {
		clear(dst)
		return
	}
	l.m.computeHidden(l.line.ids, dst)
}

// PredictLine predicts the current line of l (which must read with the
// same model), appending to dst.
func (p *Predictor) PredictLine(dst []Prediction, l *LineReader, k int, threshold float32) []Prediction {
	p.s.heap = p.m.predictIDs(p.s, l.line.ids, k, threshold, p.s.heap[:0])
	for _, h := range p.s.heap {
		dst = append(dst, Prediction{Label: p.m.dict.labelName(h.id), Prob: expf(h.score), ID: h.id})
	}
	return dst
}
