package model2vec

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/winnowlabs/winnow/models/safetensors"
	"github.com/winnowlabs/winnow/transforms/normalize/hftok"
)

// MaxTokens is the number of token ids Encode pools at most:
// StaticModel.encode's default max_length.
const MaxTokens = 512

// Model is a Model2Vec static-embedding model. It is safe for concurrent
// use.
type Model struct {
	tok       *hftok.Tokenizer
	dim, rows int
	table     []float32 // rows × dim, row-major
	mapping   []int32   // token id → row; nil without vocabulary quantization
	weights   []float32 // token id → factor; nil without weights
	normalize bool
	unk       int // the id Tokenize drops, or -1
	maxChars  int // texts are cut to this many code points
	config    map[string]json.RawMessage

	scratch sync.Pool // *scratch
}

// scratch holds the buffers of one Encode call.
type scratch struct {
	ids           []int
	ids32, sorted []int32
	acc           []float32
}

// layout is one way of laying out a model directory (model2vec's
// persistence/datamodels.py, in the library's order).
type layout struct {
	config, model, tokenizer, tensor string
}

var layouts = []layout{
	{"config.json", "model.safetensors", "tokenizer.json", "embeddings"},
	{"config_sentence_transformers.json", "model.safetensors", "tokenizer.json", "embedding.weight"},
	{"config_sentence_transformers.json", "0_StaticEmbedding/model.safetensors", "0_StaticEmbedding/tokenizer.json", "embedding.weight"},
}

// findLayout returns the first layout whose three files exist in dir.
func findLayout(dir string) (layout, error) {
	if st, err := os.Stat(dir); err != nil {
		return layout{}, fmt.Errorf("model2vec: %w", err)
	} else if !st.IsDir() {
		return layout{}, fmt.Errorf("model2vec: %s is not a directory", dir)
	}
	var missing []string
	for _, l := range layouts {
		var lacks []string
		for _, f := range []string{l.config, l.model, l.tokenizer} {
			if _, err := os.Stat(filepath.Join(dir, f)); errors.Is(err, os.ErrNotExist) {
				lacks = append(lacks, f)
			} else if err != nil {
				return layout{}, fmt.Errorf("model2vec: %w", err)
			}
		}
		if len(lacks) == 0 {
			return layout{filepath.Join(dir, l.config), filepath.Join(dir, l.model), filepath.Join(dir, l.tokenizer), l.tensor}, nil
		}
		missing = append(missing, strings.Join(lacks, " and "))
	}
	return layout{}, fmt.Errorf("model2vec: %s holds no model: it lacks %s", dir, strings.Join(missing, "; or "))
}

// Load reads the Model2Vec model in dir (see the package documentation for
// the layouts and tensors it accepts).
func Load(dir string) (*Model, error) {
	l, err := findLayout(dir)
	if err != nil {
		return nil, err
	}
	config, normalize, err := readConfig(l.config)
	if err != nil {
		return nil, err
	}
	tok, err := hftok.Load(l.tokenizer)
	if err != nil {
		return nil, fmt.Errorf("model2vec: %w", err)
	}
	f, err := safetensors.Open(l.model)
	if err != nil {
		return nil, fmt.Errorf("model2vec: %w", err)
	}
	defer f.Close()
	table, rows, dim, err := readTable(f, l.tensor)
	if err != nil {
		return nil, err
	}
	weights, err := readWeights(f, tok.VocabSize())
	if err != nil {
		return nil, err
	}
	mapping, err := readMapping(f, tok.VocabSize(), rows)
	if err != nil {
		return nil, err
	}
	if mapping == nil && rows != tok.VocabSize() {
		return nil, fmt.Errorf("model2vec: %s: tensor %q has %d rows but %s has %d tokens (and there is no \"mapping\")",
			l.model, l.tensor, rows, l.tokenizer, tok.VocabSize())
	}
	return newModel(tok, table, rows, dim, mapping, weights, normalize, config)
}

// readConfig reads a config file and its "normalize" setting (false when
// absent, as in the library).
func readConfig(path string) (map[string]json.RawMessage, bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("model2vec: %w", err)
	}
	var config map[string]json.RawMessage
	if err := json.Unmarshal(b, &config); err != nil {
		return nil, false, fmt.Errorf("model2vec: %s: %w", path, err)
	}
	if config == nil {
		return nil, false, fmt.Errorf("model2vec: %s: not a JSON object", path)
	}
	normalize := false
	if raw, ok := config["normalize"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &normalize); err != nil {
			return nil, false, fmt.Errorf("model2vec: %s: \"normalize\" is %s, not true or false", path, raw)
		}
	}
	return config, normalize, nil
}

// readTable reads the embedding table as float32.
func readTable(f *safetensors.File, name string) ([]float32, int, int, error) {
	info := f.Info(name)
	if info == nil {
		return nil, 0, 0, fmt.Errorf("model2vec: %s: no tensor %q (it has %s)", f.Path(), name, strings.Join(f.Names(), ", "))
	}
	switch info.DType {
	case safetensors.F32, safetensors.F16, safetensors.F64, safetensors.I8:
	default:
		return nil, 0, 0, fmt.Errorf("model2vec: %s: tensor %q is %s; want F32, F16, F64 or I8", f.Path(), name, info.DType)
	}
	if len(info.Shape) != 2 || info.Shape[0] == 0 || info.Shape[1] == 0 {
		return nil, 0, 0, fmt.Errorf("model2vec: %s: tensor %q has shape %v; want [rows, dim], both non-zero", f.Path(), name, info.Shape)
	}
	table, _, err := f.Float32(name)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("model2vec: %w", err)
	}
	return table, info.Shape[0], info.Shape[1], nil
}

// readWeights reads the optional per-token weights.
func readWeights(f *safetensors.File, vocab int) ([]float32, error) {
	info := f.Info("weights")
	if info == nil {
		return nil, nil
	}
	switch info.DType {
	case safetensors.F32, safetensors.F16, safetensors.F64:
	default:
		return nil, fmt.Errorf("model2vec: %s: tensor \"weights\" is %s; want F32, F16 or F64", f.Path(), info.DType)
	}
	if len(info.Shape) != 1 || info.Shape[0] != vocab {
		return nil, fmt.Errorf("model2vec: %s: tensor \"weights\" has shape %v; want [%d], one per token", f.Path(), info.Shape, vocab)
	}
	w, _, err := f.Float32("weights")
	if err != nil {
		return nil, fmt.Errorf("model2vec: %w", err)
	}
	return w, nil
}

// readMapping reads the optional vocabulary-quantization mapping.
func readMapping(f *safetensors.File, vocab, rows int) ([]int32, error) {
	info := f.Info("mapping")
	if info == nil {
		return nil, nil
	}
	if len(info.Shape) != 1 || info.Shape[0] != vocab {
		return nil, fmt.Errorf("model2vec: %s: tensor \"mapping\" has shape %v; want [%d], one per token", f.Path(), info.Shape, vocab)
	}
	m, _, err := f.Int64("mapping")
	if err != nil {
		return nil, fmt.Errorf("model2vec: %w", err)
	}
	out := make([]int32, len(m))
	for id, row := range m {
		if row < 0 || row >= int64(rows) {
			return nil, fmt.Errorf("model2vec: %s: tensor \"mapping\" sends token %d to row %d, outside the %d rows of the table", f.Path(), id, row, rows)
		}
		out[id] = int32(row)
	}
	return out, nil
}

// New builds a model from trained parameters: the tokenizer.json at
// tokenizerPath, a table of one row of dim values per token id (row-major),
// optional per-token weights (nil for none) and whether Encode
// L2-normalizes. It copies table and weights.
func New(tokenizerPath string, table []float32, dim int, weights []float32, normalize bool) (*Model, error) {
	tok, err := hftok.Load(tokenizerPath)
	if err != nil {
		return nil, fmt.Errorf("model2vec: %w", err)
	}
	v := tok.VocabSize()
	if dim <= 0 || len(table) != v*dim {
		return nil, fmt.Errorf("model2vec: table of %d values is not %d tokens × dimension %d", len(table), v, dim)
	}
	if weights != nil && len(weights) != v {
		return nil, fmt.Errorf("model2vec: %d weights for %d tokens", len(weights), v)
	}
	config := map[string]json.RawMessage{
		"model_type":    json.RawMessage(`"model2vec"`),
		"architectures": json.RawMessage(`["StaticModel"]`),
		"hidden_dim":    json.RawMessage(fmt.Sprint(dim)),
	}
	return newModel(tok, slices.Clone(table), v, dim, nil, slices.Clone(weights), normalize, config)
}

func newModel(tok *hftok.Tokenizer, table []float32, rows, dim int, mapping []int32, weights []float32,
	normalize bool, config map[string]json.RawMessage) (*Model, error) {
	m := &Model{tok: tok, dim: dim, rows: rows, table: table, mapping: mapping, weights: weights,
		normalize: normalize, unk: -1, config: config}
	lengths := make([]int, 0, tok.VocabSize())
	for id := range tok.VocabSize() {
		s := tok.Token(id)
		if s == "" {
			continue // an id no entry has
		}
		if m.unk < 0 && s == tok.UnkToken() {
			m.unk = id
		}
		lengths = append(lengths, utf8.RuneCountInString(s))
	}
	if unk := tok.UnkToken(); unk != "" && m.unk < 0 {
		return nil, fmt.Errorf("model2vec: %s: the unknown token %q is not in the vocabulary", tok.Path(), unk)
	}
	slices.Sort(lengths)
	median := 0
	if n := len(lengths); n > 0 {
		median = (lengths[(n-1)/2] + lengths[n/2]) / 2 // numpy's median, truncated by int()
	}
	m.maxChars = MaxTokens * median
	m.scratch.New = func() any { return &scratch{acc: make([]float32, dim)} }
	return m, nil
}

// Dim returns the embedding dimension.
func (m *Model) Dim() int { return m.dim }

// VocabSize returns the number of token ids.
func (m *Model) VocabSize() int { return m.tok.VocabSize() }

// Normalize reports whether Encode L2-normalizes its vectors.
func (m *Model) Normalize() bool { return m.normalize }

// TokenizerHash returns the hex SHA-256 of the model's tokenizer.json.
func (m *Model) TokenizerHash() string { return m.tok.Hash() }

// Tokenizer returns the model's tokenizer.
func (m *Model) Tokenizer() *hftok.Tokenizer { return m.tok }

// DenseTable returns a new VocabSize×Dim row-major table holding the row
// Encode uses for each token id (vocabulary quantization resolved).
func (m *Model) DenseTable() []float32 {
	if m.mapping == nil {
		return slices.Clone(m.table)
	}
	out := make([]float32, len(m.mapping)*m.dim)
	for id, row := range m.mapping {
		copy(out[id*m.dim:(id+1)*m.dim], m.table[int(row)*m.dim:])
	}
	return out
}

// Weights returns a copy of the per-token weights, or nil when the model
// has none (every weight is 1).
func (m *Model) Weights() []float32 { return slices.Clone(m.weights) }

// Tokenize appends to dst the ids Encode pools for text (see the package
// documentation) and returns it.
func (m *Model) Tokenize(dst []int32, text string) []int32 {
	sc := m.scratch.Get().(*scratch)
	defer m.scratch.Put(sc)
	return m.tokenize(dst, sc, text)
}

func (m *Model) tokenize(dst []int32, sc *scratch, text string) []int32 {
	sc.ids = m.tok.AppendEncodePrefix(sc.ids[:0], cutChars(text, m.maxChars), MaxTokens, m.unk)
	for _, id := range sc.ids {
		dst = append(dst, int32(id))
	}
	return dst
}

// cutChars returns the first n code points of s.
func cutChars(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// Encode writes the embedding of text to dst, which must have length
// Dim(). It allocates nothing once warm.
func (m *Model) Encode(dst []float32, text string) {
	if len(dst) != m.dim {
		panic(fmt.Sprintf("model2vec: Encode into %d values, want %d", len(dst), m.dim))
	}
	sc := m.scratch.Get().(*scratch)
	sc.ids32 = m.tokenize(sc.ids32[:0], sc, text)
	pool(dst, sc, m.table, m.dim, m.mapping, m.weights, sc.ids32, m.normalize)
	m.scratch.Put(sc)
}

// encodeBatchChunk is the number of texts an EncodeBatch worker takes at a
// time.
const encodeBatchChunk = 16

// EncodeBatch writes the embedding of texts[i] to out[i*Dim():(i+1)*Dim()];
// out must have length len(texts)×Dim(). Batches of more than one chunk
// are spread over GOMAXPROCS goroutines.
func (m *Model) EncodeBatch(texts []string, out []float32) {
	if len(out) != len(texts)*m.dim {
		panic(fmt.Sprintf("model2vec: EncodeBatch of %d texts into %d values, want %d", len(texts), len(out), len(texts)*m.dim))
	}
	chunks := (len(texts) + encodeBatchChunk - 1) / encodeBatchChunk
	workers := min(runtime.GOMAXPROCS(0), chunks)
	if workers <= 1 {
		for i, t := range texts {
			m.Encode(out[i*m.dim:(i+1)*m.dim], t)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return
				}
				for i := c * encodeBatchChunk; i < min(len(texts), (c+1)*encodeBatchChunk); i++ {
					m.Encode(out[i*m.dim:(i+1)*m.dim], texts[i])
				}
			}
		})
	}
	wg.Wait()
}

// Pool is the forward of a Model2Vec model on one text's token ids, the
// reference for implementations in other frameworks: table is VocabSize×dim
// row-major (DenseTable), weights one factor per token id or nil for all 1.
// It writes (1/n) Σₖ weights[ids[k]]·table[ids[k]] to dst (length dim),
// divided by its L2 norm plus 1e-32 when normalize, or zeros for no ids.
func Pool(dst, table []float32, dim int, weights []float32, ids []int32, normalize bool) {
	pool(dst, &scratch{acc: make([]float32, dim)}, table, dim, nil, weights, ids, normalize)
}

// pool is Pool with a mapping from token id to row (nil for the identity),
// using sc's accumulator (dim values) and sorted-id buffer. Each distinct
// id's row is added once, times its count: fewer rows to read, and a sum
// no less exact than the library's float32 one.
func pool(dst []float32, sc *scratch, table []float32, dim int, mapping []int32, weights []float32, ids []int32, normalize bool) {
	acc := sc.acc[:dim]
	clear(acc)
	if len(ids) == 0 {
		clear(dst)
		return
	}
	sorted := append(sc.sorted[:0], ids...)
	slices.Sort(sorted)
	sc.sorted = sorted
	for i := 0; i < len(sorted); {
		id := sorted[i]
		n := 1
		for i+n < len(sorted) && sorted[i+n] == id {
			n++
		}
		i += n
		row := int(id)
		if mapping != nil {
			row = int(mapping[id])
		}
		f := float32(n)
		if weights != nil {
			f *= weights[id]
		}
		axpy(acc, table[row*dim:(row+1)*dim], f)
	}
	scale := 1 / float64(len(ids))
	if normalize {
		var ss float64
		for _, v := range acc {
			ss += float64(v) * float64(v)
		}
		scale /= math.Sqrt(ss*scale*scale) + 1e-32
	}
	for j, v := range acc {
		dst[j] = float32(float64(v) * scale)
	}
}

// axpy adds f·x to y (len(y) ≥ len(x)).
func axpy(y, x []float32, f float32) {
	y = y[:len(x)]
	j := 0
	for ; j+8 <= len(x); j += 8 {
		xx, yy := x[j:j+8:j+8], y[j:j+8:j+8]
		yy[0] += f * xx[0]
		yy[1] += f * xx[1]
		yy[2] += f * xx[2]
		yy[3] += f * xx[3]
		yy[4] += f * xx[4]
		yy[5] += f * xx[5]
		yy[6] += f * xx[6]
		yy[7] += f * xx[7]
	}
	for ; j < len(x); j++ {
		y[j] += f * x[j]
	}
}
