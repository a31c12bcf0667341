package encoder

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"golang.org/x/sync/errgroup"

	"github.com/winnowlabs/winnow/models/head"
	"github.com/winnowlabs/winnow/transforms/normalize/hftok"
)

// Task is what Predict returns for a model.
type Task int

// The tasks of the models this package loads.
const (
	// TaskRegression: the classifier's raw outputs (num_labels 1 without a
	// problem_type, or problem_type "regression"), e.g. the FineWeb-Edu
	// classifier's score.
	TaskRegression Task = iota
	// TaskSingleLabel: a probability per label, the softmax of the outputs
	// (problem_type "single_label_classification", or several labels
	// without a problem_type).
	TaskSingleLabel
	// TaskMultiLabel: a probability per label, the sigmoid of each output
	// (problem_type "multi_label_classification").
	TaskMultiLabel
	// TaskEmbedding: a BertModel's embedding, pooled as its
	// sentence-transformers configuration says (L2-normalized when it has a
	// Normalize module).
	TaskEmbedding
)

func (t Task) String() string {
	switch t {
	case TaskRegression:
		return "regression"
	case TaskSingleLabel:
		return "single-label"
	case TaskMultiLabel:
		return "multi-label"
	case TaskEmbedding:
		return "embedding"
	}
	return fmt.Sprintf("Task(%d)", int(t))
}

// DefaultBuckets are the padded lengths texts are grouped by.
var DefaultBuckets = []int{64, 128, 256, 512}

// DefaultBatchSize is the most texts per executed batch.
const DefaultBatchSize = 32

// DefaultBatchTokens is the most padded tokens per executed batch: 16 texts
// of 512 tokens, whose attention scores alone take 200 MB in float32.
const DefaultBatchTokens = 8192

// Options tune Load.
type Options struct {
	// MaxLength lowers the number of tokens a text is truncated to, [CLS]
	// and [SEP] included. By default it is the model's
	// max_position_embeddings, lowered by a sentence-transformers model's
	// max_seq_length and by tokenizer_config.json's model_max_length.
	MaxLength int
	// BatchSize is the most texts per executed batch (default
	// DefaultBatchSize), BatchTokens the most padded tokens (default
	// DefaultBatchTokens, and at least one text): a bucket of length L
	// runs min(BatchSize, BatchTokens/L) texts at a time, and the texts
	// of a call left over in batches of powers of two (13 = 8 + 4 + 1).
	BatchSize   int
	BatchTokens int
	// Buckets are the padded lengths texts are grouped by (default
	// DefaultBuckets). Lengths beyond the maximum length are dropped and
	// the maximum length is always the last bucket. One bucket equal to
	// the maximum length pads every text to it.
	Buckets []int
	// Workers is the number of batches a call runs at once (default 1).
	// Each batch's matrix products already use every core on the Go
	// backend.
	Workers int
}

// Model is a loaded BERT encoder. It is safe for concurrent use: its
// compiled executables, one per output, batch size and bucket length, are
// shared by all callers.
type Model struct {
	dir         string
	cfg         *Config
	st          *sentenceTransformers // nil for BertForSequenceClassification
	task        Task
	tok         *hftok.Tokenizer
	prefix      []int // special tokens before and after the text
	suffix      []int
	maxLen      int
	buckets     []int
	batchSize   int
	batchTokens int
	workers     int

	backend compute.Backend
	params  *params[*tensors.Tensor]
	args    []any // params as graph.Exec arguments
	pooler  *Linear

	mu     sync.Mutex
	execs  [numOutputs]*graph.Exec
	unused []string
}

// Linear is a dense layer's parameters in PyTorch's layout: Weight is
// [Out, In] row-major, Bias is [Out].
type Linear struct {
	Weight  []float32
	Bias    []float32
	Out, In int
}

// Load reads the Hugging Face model directory dir (config.json, the
// safetensors weights, tokenizer.json) to run on backend, which the caller
// opened and keeps open while the model is used.
func Load(dir string, backend compute.Backend, opts Options) (*Model, error) {
	if backend == nil {
		return nil, errors.New("encoder: no backend")
	}
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	m := &Model{dir: dir, cfg: cfg, backend: backend}
	m.task = classifierTask(cfg)
	if cfg.Arch() == ArchModel {
		if m.st, err = readSentenceTransformers(dir); err != nil {
			return nil, err
		}
		m.task = TaskEmbedding
	}
	if m.maxLen, err = maxLength(dir, cfg, m.st); err != nil {
		return nil, err
	}
	if err := m.setShape(opts); err != nil {
		return nil, err
	}
	tokPath := filepath.Join(dir, "tokenizer.json")
	if m.tok, err = hftok.Load(tokPath); err != nil {
		return nil, fmt.Errorf("encoder: %w", err)
	}
	if m.tok.VocabSize() > cfg.VocabSize {
		return nil, fmt.Errorf("encoder: %s has %d tokens but config.json's vocab_size is %d", tokPath, m.tok.VocabSize(), cfg.VocabSize)
	}
	if m.prefix, m.suffix, err = m.tok.SingleSpecials(); err != nil {
		return nil, fmt.Errorf("encoder: %w", err)
	}
	if len(m.prefix) != 1 {
		return nil, fmt.Errorf("encoder: %s puts %d tokens before the text; the [CLS] pooling needs exactly one", tokPath, len(m.prefix))
	}
	if m.maxLen <= len(m.prefix)+len(m.suffix) {
		return nil, fmt.Errorf("encoder: maximum length %d leaves no room for text between the special tokens", m.maxLen)
	}

	ckpt, err := openCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	defer ckpt.close()
	if m.params, err = loadParams(ckpt, cfg); err != nil {
		return nil, err
	}
	m.unused = ckpt.unused()
	if p := m.params.pooler; p != nil {
		m.pooler = &Linear{Out: cfg.HiddenSize, In: cfg.HiddenSize,
			Weight: tensors.MustCopyFlatData[float32](p.weight), Bias: tensors.MustCopyFlatData[float32](p.bias)}
	}
	for _, f := range m.params.fields() {
		if err := (*f).ToDevice(backend, 0); err != nil {
			return nil, fmt.Errorf("encoder: move weights to the backend: %w", err)
		}
		m.args = append(m.args, *f)
	}
	return m, nil
}

// classifierTask derives the task of a classification head as transformers'
// text-classification pipeline does, except that one output without a
// problem_type is a raw regression score (as BertForSequenceClassification
// trains it).
func classifierTask(cfg *Config) Task {
	switch {
	case cfg.ProblemType == ProblemRegression:
		return TaskRegression
	case cfg.ProblemType == ProblemMultiLabel:
		return TaskMultiLabel
	case cfg.ProblemType == ProblemSingleLabel:
		return TaskSingleLabel
	case cfg.NumLabels == 1:
		return TaskRegression
	}
	return TaskSingleLabel
}

// setShape sets the maximum length, buckets, batch size and workers.
func (m *Model) setShape(opts Options) error {
	if opts.MaxLength < 0 || opts.BatchSize < 0 || opts.BatchTokens < 0 || opts.Workers < 0 {
		return fmt.Errorf("encoder: negative option in %+v", opts)
	}
	if opts.MaxLength > 0 {
		m.maxLen = min(m.maxLen, opts.MaxLength)
	}
	m.batchSize = cmpOr(opts.BatchSize, DefaultBatchSize)
	m.batchTokens = cmpOr(opts.BatchTokens, DefaultBatchTokens)
	m.workers = cmpOr(opts.Workers, 1)
	buckets := opts.Buckets
	if buckets == nil {
		buckets = DefaultBuckets
	}
	for _, b := range buckets {
		if b <= 0 {
			return fmt.Errorf("encoder: bucket length %d is not positive", b)
		}
		if b < m.maxLen {
			m.buckets = append(m.buckets, b)
		}
	}
	m.buckets = append(m.buckets, m.maxLen)
	slices.Sort(m.buckets)
	m.buckets = slices.Compact(m.buckets)
	return nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Close releases the model's weights and compiled executables; no call may
// be running or start after it.
func (m *Model) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, e := range m.execs {
		if e != nil {
			e.Finalize()
			m.execs[i] = nil
		}
	}
	for _, a := range m.args {
		a.(*tensors.Tensor).FinalizeAll()
	}
	m.args = nil
}

// Dir returns the model directory.
func (m *Model) Dir() string { return m.dir }

// Config returns the model's configuration.
func (m *Model) Config() *Config { return m.cfg }

// Task returns what Predict computes.
func (m *Model) Task() Task { return m.task }

// Labels returns the classifier's labels in output order (nil for a
// BertModel).
func (m *Model) Labels() []string {
	if m.params.classifier == nil {
		return nil
	}
	return m.cfg.Labels()
}

// Pooling returns the embedding pooling of a BertModel ("" for a
// classifier).
func (m *Model) Pooling() Pooling {
	if m.st == nil {
		return ""
	}
	return m.st.pooling
}

// MaxLength returns the number of tokens texts are truncated to, [CLS] and
// [SEP] included.
func (m *Model) MaxLength() int { return m.maxLen }

// Buckets returns the padded lengths texts are grouped by.
func (m *Model) Buckets() []int { return slices.Clone(m.buckets) }

// Tokenizer returns the model's tokenizer.
func (m *Model) Tokenizer() *hftok.Tokenizer { return m.tok }

// Pooler returns a copy of the checkpoint's pooler (dense [hidden, hidden]
// followed by tanh on the [CLS] state), or nil when it has none.
func (m *Model) Pooler() *Linear {
	if m.pooler == nil {
		return nil
	}
	return &Linear{Weight: slices.Clone(m.pooler.Weight), Bias: slices.Clone(m.pooler.Bias), Out: m.pooler.Out, In: m.pooler.In}
}

// UnusedTensors lists the checkpoint's tensors the model does not use
// (e.g. a pre-training head), apart from the position_ids buffer.
func (m *Model) UnusedTensors() []string { return slices.Clone(m.unused) }

// Encode returns the token ids the model runs on for text: the special
// tokens around its ids, truncated to MaxLength.
func (m *Model) Encode(text string) []int {
	ids := make([]int, len(m.prefix), m.maxLen)
	copy(ids, m.prefix)
	ids = m.tok.AppendEncodePrefix(ids, text, m.maxLen-len(m.prefix)-len(m.suffix), -1)
	return append(ids, m.suffix...)
}

// Dim returns the number of values Predict returns per text.
func (m *Model) Dim() int {
	if m.task == TaskEmbedding {
		return m.cfg.HiddenSize
	}
	return m.cfg.NumLabels
}

// Predict computes Task's result for each text: Dim values per text, in
// input order, in one slice.
func (m *Model) Predict(texts []string) ([]float32, error) {
	switch m.task {
	case TaskEmbedding:
		out := OutputMean
		if m.st.pooling == PoolCLS {
			out = OutputCLS
		}
		res, err := m.Compute(texts, out)
		if err == nil && m.st.normalize {
			for i := 0; i < len(res); i += m.cfg.HiddenSize {
				l2Normalize(res[i : i+m.cfg.HiddenSize])
			}
		}
		return res, err
	}
	res, err := m.Compute(texts, OutputLogits)
	if err != nil {
		return nil, err
	}
	k := m.cfg.NumLabels
	for i := 0; i < len(res); i += k {
		switch m.task {
		case TaskSingleLabel:
			head.Softmax(res[i : i+k])
		case TaskMultiLabel:
			for j := i; j < i+k; j++ {
				res[j] = float32(1 / (1 + math.Exp(-float64(res[j]))))
			}
		}
	}
	return res, nil
}

func l2Normalize(x []float32) {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	if ss == 0 {
		return
	}
	inv := 1 / math.Sqrt(ss)
	for i := range x {
		x[i] = float32(float64(x[i]) * inv)
	}
}

// OutputDim returns the number of values Compute returns per text for out.
func (m *Model) OutputDim(out Output) int {
	if out == OutputLogits {
		return m.cfg.NumLabels
	}
	return m.cfg.HiddenSize
}

// Compute runs the encoder on texts and returns out for each: OutputDim(out)
// values per text, in input order, in one slice. Texts are tokenized,
// truncated, grouped into the length buckets and run in padded batches.
func (m *Model) Compute(texts []string, out Output) ([]float32, error) {
	if out < 0 || out >= numOutputs {
		return nil, fmt.Errorf("encoder: unknown output %d", int(out))
	}
	if out == OutputLogits && m.params.classifier == nil {
		return nil, fmt.Errorf("encoder: %s is a %s without a classifier", m.dir, m.cfg.Arch())
	}
	if out == OutputPooled && m.params.pooler == nil {
		return nil, fmt.Errorf("encoder: %s has no pooler", m.dir)
	}
	exec, err := m.exec(out)
	if err != nil {
		return nil, err
	}
	dim := m.OutputDim(out)
	res := make([]float32, len(texts)*dim)
	ids := make([][]int, len(texts))
	for i, t := range texts {
		ids[i] = m.Encode(t)
	}
	batches := m.plan(ids)
	var g errgroup.Group
	g.SetLimit(m.workers)
	for _, b := range batches {
		g.Go(func() error { return m.run(exec, b, ids, res, dim) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return res, nil
}

// batch is a group of texts run together, padded to length.
type batch struct {
	length int
	rows   []int // indices of the texts
}

// plan groups texts by length bucket into batches.
func (m *Model) plan(ids [][]int) []batch {
	byBucket := make([][]int, len(m.buckets))
	for i, t := range ids {
		b, _ := slices.BinarySearch(m.buckets, len(t))
		byBucket[b] = append(byBucket[b], i)
	}
	var out []batch
	for b, rows := range byBucket {
		length := m.buckets[b]
		full := m.rowsPerBatch(length)
		for len(rows) > 0 {
			// Full batches, then the rest in batches of its binary
			// digits (13 = 8 + 4 + 1): no padded rows, and a few
			// batch shapes per bucket.
			n := full
			if len(rows) < full {
				n = 1 << (bitsLen(len(rows)) - 1)
			}
			out = append(out, batch{length, rows[:n]})
			rows = rows[n:]
		}
	}
	return out
}

// rowsPerBatch returns the number of texts a full batch of a bucket holds.
func (m *Model) rowsPerBatch(length int) int {
	return max(1, min(m.batchSize, m.batchTokens/length))
}

// exec returns the executor of out, creating it on first use.
func (m *Model) exec(out Output) (*graph.Exec, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.args == nil {
		return nil, errors.New("encoder: model is closed")
	}
	if m.execs[out] == nil {
		e, err := graph.NewExec(m.backend, graphFn(m.cfg, m.params, out))
		if err != nil {
			return nil, fmt.Errorf("encoder: %w", err)
		}
		// One executable per bucket and batch size (the full size and
		// powers of two below it).
		e.SetMaxCache(len(m.buckets) * (bitsLen(m.batchSize) + 1))
		m.execs[out] = e.WithName("encoder-" + out.String())
	}
	return m.execs[out], nil
}

func bitsLen(n int) int {
	b := 0
	for ; n > 0; n >>= 1 {
		b++
	}
	return b
}

// run executes one batch and writes its rows' outputs into res.
func (m *Model) run(exec *graph.Exec, b batch, ids [][]int, res []float32, dim int) error {
	size := len(b.rows)
	tokens := make([]int32, size*b.length)
	mask := make([]float32, size*b.length)
	for r, i := range b.rows {
		for j, id := range ids[i] {
			tokens[r*b.length+j] = int32(id)
			mask[r*b.length+j] = 1
		}
	}
	idsT := tensors.FromFlatDataAndDimensions(tokens, size, b.length)
	maskT := tensors.FromFlatDataAndDimensions(mask, size, b.length)
	defer idsT.FinalizeAll()
	defer maskT.FinalizeAll()
	args := append(slices.Clip(m.args), idsT, maskT)
	outs, err := exec.Exec(args...)
	if err != nil {
		return fmt.Errorf("encoder: run a batch of %d×%d: %w", size, b.length, err)
	}
	defer outs[0].FinalizeAll()
	return tensors.ConstFlatData(outs[0], func(flat []float32) {
		for r, i := range b.rows {
			copy(res[i*dim:(i+1)*dim], flat[r*dim:(r+1)*dim])
		}
	})
}
