package fasttext

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
)

// initFromPretrained builds the input matrix from a .vec file
// (FastText::getInputMatrixFromFile): its words join the dictionary, the
// matrix is initialised at random and the listed words' rows are replaced
// by their vectors.
func (m *Model) initFromPretrained(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open pretrained vectors: %w", err)
	}
	defer f.Close()
	tr := newTokenReader(bufio.NewReaderSize(f, 1<<20), 1<<16)
	nextField := func() (string, bool) {
		for {
			tok, ok := tr.next()
			if !ok {
				return "", false
			}
			if !tr.newline { // newlines are only separators here
				return string(tok), true
			}
		}
	}
	parseInt := func(what string) (int64, error) {
		s, ok := nextField()
		if !ok {
			return 0, fmt.Errorf("pretrained vectors %s: missing %s in the header", path, what)
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("pretrained vectors %s: header %s %q is not a number", path, what, s)
		}
		return v, nil
	}
	n, err := parseInt("word count")
	if err != nil {
		return err
	}
	dim, err := parseInt("dimension")
	if err != nil {
		return err
	}
	if dim != int64(m.args.Dim) {
		return fmt.Errorf("pretrained vectors %s have dimension %d, but dim is %d", path, dim, m.args.Dim)
	}
	if n < 0 {
		return fmt.Errorf("pretrained vectors %s: negative word count %d", path, n)
	}
	words := make([]string, 0, min(n, 1<<20))
	vecs := make([]float32, 0, min(n*dim, 1<<24))
	for i := int64(0); i < n; i++ {
		w, ok := nextField()
		if !ok {
			return fmt.Errorf("pretrained vectors %s: file ends after %d of %d vectors", path, i, n)
		}
		words = append(words, w)
		m.dict.add([]byte(w))
		for j := int64(0); j < dim; j++ {
			s, ok := nextField()
			if !ok {
				return fmt.Errorf("pretrained vectors %s: vector %d (%q) is cut short", path, i+1, w)
			}
			v, err := strconv.ParseFloat(s, 32)
			if err != nil {
				return fmt.Errorf("pretrained vectors %s: vector %d (%q), value %d: %q is not a number", path, i+1, w, j+1, s)
			}
			vecs = append(vecs, float32(v))
		}
	}
	if err := tr.readErr(); err != nil {
		return fmt.Errorf("read pretrained vectors %s: %w", path, err)
	}
	m.dict.threshold(1, 0)
	m.dict.init()
	m.input = newDenseMatrix(int64(m.dict.nwords)+int64(m.args.Bucket), int64(m.args.Dim))
	adviseHugePages(m.input.data)
	uniformInit(m.input.data, float32(1.0/float64(m.args.Dim)), m.args.Thread, m.args.Seed)
	for i, w := range words {
		id := m.dict.id(w)
		if id < 0 || id >= m.dict.nwords {
			continue
		}
		copy(m.input.row(id), vecs[int64(i)*dim:int64(i+1)*dim])
	}
	return nil
}

// formatVector writes v as fastText prints vectors: each value with five
// significant digits followed by a space.
func formatVector(w *bufio.Writer, v []float32) {
	var buf [32]byte
	for _, x := range v {
		w.Write(formatFloat(buf[:0], x, 5))
		w.WriteByte(' ')
	}
}

// formatFloat formats x like a C++ stream with the given precision in its
// default float format (printf's %g).
func formatFloat(dst []byte, x float32, prec int) []byte {
	return strconv.AppendFloat(dst, float64(x), 'g', prec, 64)
}

// WriteVectors writes the word vectors in fastText's text .vec format (the
// file `fasttext supervised` writes beside the model): a header line with the
// word count and dimension, then one line per vocabulary word.
func (m *Model) WriteVectors(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	fmt.Fprintf(bw, "%d %d\n", m.dict.nwords, m.args.Dim)
	vec := make([]float32, m.args.Dim)
	for i := int32(0); i < m.dict.nwords; i++ {
		word := m.dict.words[i].word
		bw.WriteString(word)
		bw.WriteByte(' ')
		if m.dict.maxn > 0 {
			m.computeHidden(m.dict.subwords(i), vec)
		} else {
			m.computeHidden([]int32{i}, vec)
		}
		formatVector(bw, vec)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// WriteOutputVectors writes the output matrix rows (one per label) in the
// .vec format, as `fasttext supervised -saveOutput` does.
func (m *Model) WriteOutputVectors(w io.Writer) error {
	if m.output == nil {
		return fmt.Errorf("the output matrix is quantized; its vectors cannot be saved")
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	fmt.Fprintf(bw, "%d %d\n", m.dict.nlabels, m.args.Dim)
	for i := int32(0); i < m.dict.nlabels; i++ {
		bw.WriteString(m.dict.labelName(i))
		bw.WriteByte(' ')
		formatVector(bw, m.output.row(i))
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
