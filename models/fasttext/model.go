package fasttext

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// The model file format (fastText's .bin and .ftz).
const (
	fileMagic   = 793712314
	fileVersion = 12
)

// Model is a fastText model: dictionary, input matrix (word, subword and
// n-gram vectors) and output matrix (one row per label, or per internal
// node of the hierarchical softmax tree). Either matrix may be product
// quantized. A Model is safe for concurrent prediction.
type Model struct {
	args    Args
	dict    *dictionary
	input   *denseMatrix // nil when quantized
	qinput  *quantMatrix
	output  *denseMatrix // nil when qout
	qoutput *quantMatrix
	qout    bool
	version int32

	hs *hsTree // hierarchical softmax tree, for LossHS

	pool sync.Pool // *predictState
}

// Args returns the model's arguments (those stored in the model file, plus
// the training-only ones when the model was trained in this process).
func (m *Model) Args() Args { return m.args }

// Dim returns the vector dimension.
func (m *Model) Dim() int { return m.args.Dim }

// Quantized reports whether the input matrix is product quantized (.ftz).
func (m *Model) Quantized() bool { return m.qinput != nil }

// Labels returns the labels, in the model's order (by decreasing training
// frequency), with their prefix (e.g. "__label__en").
func (m *Model) Labels() []string {
	out := make([]string, m.dict.nlabels)
	for i := range out {
		out[i] = m.dict.labelName(int32(i))
	}
	return out
}

// LabelCounts returns how often each label (in Labels order) occurred in the
// training data.
func (m *Model) LabelCounts() []int64 { return m.dict.counts(typeLabel) }

// NumWords returns the vocabulary size (words, without labels).
func (m *Model) NumWords() int { return int(m.dict.nwords) }

// Words returns the vocabulary, in id order (by decreasing count).
func (m *Model) Words() []string {
	out := make([]string, m.dict.nwords)
	for i := range out {
		out[i] = m.dict.words[i].word
	}
	return out
}

// NumTokens returns the number of tokens the dictionary was built from.
func (m *Model) NumTokens() int64 { return m.dict.ntokens }

// WordID returns the id of w in the vocabulary, or -1.
func (m *Model) WordID(w string) int { return int(m.dict.id(w)) }

// Load reads a model file (.bin or .ftz) written by fastText or by this
// package.
func Load(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open fastText model: %w", err)
	}
	defer f.Close()
	m, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("load fastText model %s: %w", path, err)
	}
	return m, nil
}

// Read decodes a model from r.
func Read(r io.Reader) (*Model, error) {
	br := newBinReader(r)
	magic, version := br.i32(), br.i32()
	if err := br.err(); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if magic != fileMagic {
		return nil, fmt.Errorf("not a fastText model (magic %d, want %d)", magic, fileMagic)
	}
	if version > fileVersion {
		return nil, fmt.Errorf("model format version %d is newer than the supported %d", version, fileVersion)
	}
	m := &Model{version: version}
	a := &m.args
	*a = Args{
		Dim: int(br.i32()), WS: int(br.i32()), Epoch: int(br.i32()), MinCount: int(br.i32()),
		Neg: int(br.i32()), WordNgrams: int(br.i32()), Loss: Loss(br.i32()), Model: ModelKind(br.i32()),
		Bucket: int(br.i32()), Minn: int(br.i32()), Maxn: int(br.i32()), LRUpdateRate: int(br.i32()),
		T: br.f64(), Label: "__label__",
	}
	if err := br.err(); err != nil {
		return nil, fmt.Errorf("arguments: %w", err)
	}
	if version == 11 && a.Model == ModelSupervised {
		a.Maxn = 0 // old supervised models did not use character n-grams
	}
	if err := checkStoredArgs(a); err != nil {
		return nil, err
	}
	m.dict = newDictionary(a)
	if err := m.dict.load(br); err != nil {
		return nil, err
	}
	quantInput := br.bool()
	var err error
	if quantInput {
		m.qinput, err = loadQuantMatrix(br)
	} else {
		m.input, err = loadDenseMatrix(br)
	}
	if err != nil {
		return nil, fmt.Errorf("input matrix: %w", err)
	}
	if !quantInput && m.dict.isPruned() {
		return nil, errors.New("invalid model: pruned dictionary with a dense input matrix (an outdated fastText file; download the updated model)")
	}
	m.qout = br.bool()
	if quantInput && m.qout {
		m.qoutput, err = loadQuantMatrix(br)
	} else {
		m.output, err = loadDenseMatrix(br)
	}
	if err != nil {
		return nil, fmt.Errorf("output matrix: %w", err)
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	m.buildLoss()
	return m, nil
}

func checkStoredArgs(a *Args) error {
	switch {
	case a.Dim <= 0:
		return fmt.Errorf("invalid dimension %d", a.Dim)
	case a.Loss < LossHS || a.Loss > LossOVA:
		return fmt.Errorf("unknown loss %d", a.Loss)
	case a.Model < ModelCBOW || a.Model > ModelSupervised:
		return fmt.Errorf("unknown model kind %d", a.Model)
	case a.Bucket < 0 || (a.Bucket == 0 && (a.Maxn > 0 || a.WordNgrams > 1)):
		return fmt.Errorf("invalid bucket count %d for maxn %d and wordNgrams %d", a.Bucket, a.Maxn, a.WordNgrams)
	}
	return nil
}

// check verifies that the matrices agree with the dictionary.
func (m *Model) check() error {
	inRows, inCols := m.inputShape()
	outRows, outCols := m.outputShape()
	d := m.dict
	wantIn := int64(d.nwords) + int64(m.args.Bucket)
	if d.isPruned() {
		wantIn = int64(d.nwords) + max(d.pruneSize, 0)
	}
	if inRows != wantIn {
		return fmt.Errorf("input matrix has %d rows, the dictionary needs %d", inRows, wantIn)
	}
	if inCols != int64(m.args.Dim) || outCols != int64(m.args.Dim) {
		return fmt.Errorf("matrix widths %d and %d do not match dim %d", inCols, outCols, m.args.Dim)
	}
	if m.args.Model == ModelSupervised {
		want := int64(d.nlabels)
		if m.args.Loss == LossHS {
			want = max(int64(d.nlabels)-1, 0)
		}
		if outRows < want {
			return fmt.Errorf("output matrix has %d rows, %d labels need %d", outRows, d.nlabels, want)
		}
	}
	for _, p := range d.prunePairs {
		if p.bucket < 0 || p.row < 0 || int64(p.row) >= max(d.pruneSize, 0) {
			return fmt.Errorf("prune index maps bucket %d to row %d out of range", p.bucket, p.row)
		}
	}
	return nil
}

func (m *Model) inputShape() (int64, int64) {
	if m.qinput != nil {
		return m.qinput.m, m.qinput.n
	}
	return m.input.m, m.input.n
}

func (m *Model) outputShape() (int64, int64) {
	if m.qoutput != nil {
		return m.qoutput.m, m.qoutput.n
	}
	return m.output.m, m.output.n
}

// buildLoss prepares the loss's prediction structures.
func (m *Model) buildLoss() {
	m.hs = nil
	if m.args.Loss == LossHS {
		if m.args.Model == ModelSupervised {
			m.hs = buildHSTree(m.dict.counts(typeLabel))
		} else {
			m.hs = buildHSTree(m.dict.counts(typeWord))
		}
	}
	m.pool = sync.Pool{}
}

// Save writes the model to path (fastText's format: a quantized model is
// what fastText calls .ftz). The file is written under a temporary name and
// renamed into place; blocks of zeros are left as holes (see sparseFile).
func (m *Model) Save(path string) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("save fastText model: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("save fastText model: %w", err)
	}
	sf := &sparseFile{f: tmp}
	err = m.Write(sf)
	if err == nil {
		err = sf.finish()
	}
	if err != nil {
		tmp.Close()
		return fmt.Errorf("save fastText model %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save fastText model %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save fastText model: %w", err)
	}
	return nil
}

// Write encodes the model in fastText's format (version 12).
func (m *Model) Write(w io.Writer) error {
	bw := newBinWriter(w)
	bw.i32(fileMagic)
	bw.i32(fileVersion)
	a := &m.args
	for _, v := range []int{a.Dim, a.WS, a.Epoch, a.MinCount, a.Neg, a.WordNgrams, int(a.Loss), int(a.Model), a.Bucket, a.Minn, a.Maxn, a.LRUpdateRate} {
		bw.i32(int32(v))
	}
	bw.f64(a.T)
	m.dict.save(bw)
	bw.bool(m.qinput != nil)
	if m.qinput != nil {
		m.qinput.save(bw)
	} else {
		m.input.save(bw)
	}
	bw.bool(m.qout)
	if m.qoutput != nil {
		m.qoutput.save(bw)
	} else {
		m.output.save(bw)
	}
	return bw.flush()
}
