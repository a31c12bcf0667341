package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/winnowlabs/winnow/models/head"
	"github.com/winnowlabs/winnow/models/model2vec"
	"github.com/winnowlabs/winnow/models/modeldir"
	"github.com/winnowlabs/winnow/models/safetensors"
	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// Kinds of static-embedding classifiers: a Model2Vec model with an MLP head
// (classifier or regressor), and a contrastive ranker (the same with a
// scalar score head).
const (
	KindModel2Vec   = "model2vec"
	KindContrastive = "contrastive"
	// KindEmbeddingModel2Vec is the embedder kind of Model2Vec directories.
	KindEmbeddingModel2Vec = "model2vec"
)

// StaticEmbeddingsDir is where a static classifier's model directory keeps
// its Model2Vec model.
const StaticEmbeddingsDir = "embeddings"

func init() {
	registerKind(KindModel2Vec, loadStatic)
	registerKind(KindContrastive, loadStatic)
	RegisterEmbedder(KindEmbeddingModel2Vec, loadModel2VecEmbedder)
}

// staticClassifier runs a head on a Model2Vec model's pooled embeddings.
type staticClassifier struct {
	info *Info
	emb  *model2vec.Model
	head *head.Head
	norm normalize.Normalizer // nil: the text is embedded as it is
	// value: the head's output is the score (regression, ranking).
	value bool
	pool  sync.Pool // *staticScratch
}

type staticScratch struct {
	x, out []float32
	s      head.Scratch
}

func loadStatic(ctx context.Context, dir string, man *modeldir.Manifest, opts LoadOptions) (Classifier, error) {
	if len(man.Files) == 0 {
		return nil, fmt.Errorf("model %s: manifest lists no files", dir)
	}
	local, err := LocalDir(ctx, dir, man.Files)
	if err != nil {
		return nil, err
	}
	emb, err := model2vec.Load(filepath.Join(local, StaticEmbeddingsDir))
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", dir, err)
	}
	if man.TokenizerHash != "" && emb.TokenizerHash() != man.TokenizerHash {
		return nil, fmt.Errorf("model %s: its tokenizer has SHA-256 %s, but the model was trained with one whose SHA-256 is %s", dir, emb.TokenizerHash(), man.TokenizerHash)
	}
	h, err := head.Load(ctx, local)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", dir, err)
	}
	if h.Config.InputDim != emb.Dim() {
		return nil, fmt.Errorf("model %s: the head takes %d inputs but the embeddings have %d dimensions", dir, h.Config.InputDim, emb.Dim())
	}
	sum, err := staticHash(ctx, local, man.Files, h)
	if err != nil {
		return nil, err
	}
	if opts.SHA256 != "" && sum != opts.SHA256 {
		return nil, fmt.Errorf("model %s has hash %s, not the expected %s: it changed since the run started", dir, sum, opts.SHA256)
	}
	c := &staticClassifier{emb: emb, head: h, value: h.Config.Task != head.Classification}
	if man.Normalizer.Name != "" || opts.Normalizer != "" {
		if c.norm, err = normalizerFor(&man.Normalizer, opts.Normalizer, opts.Tokenizer); err != nil {
			return nil, fmt.Errorf("model %s: %w", dir, err)
		}
	}
	name, err := modelName(dir, opts)
	if err != nil {
		return nil, err
	}
	info := &Info{Kind: man.Kind, Name: name, Path: dir, SHA256: sum, Labels: h.Labels, Manifest: man}
	if c.norm != nil {
		info.Normalizer = normalize.Describe(c.norm)
	}
	if c.value {
		if h.Range == nil {
			return nil, fmt.Errorf("model %s: a %s head without a score range", dir, h.Config.Task)
		}
		info.Scoring = NewValueScoring(h.Range[0], h.Range[1])
	} else if info.Scoring, err = NewScoring(info.Labels, opts.PositiveLabel); err != nil {
		return nil, fmt.Errorf("model %s: %w", dir, err)
	}
	c.info = info
	return c, nil
}

// staticHash identifies a static classifier by what determines its
// predictions: its files, except head.json, whose training record (times,
// rates) differs between two otherwise identical trainings; the head's
// shape, labels and range stand for it.
func staticHash(ctx context.Context, dir string, files []string, h *head.Head) (string, error) {
	var weights []string
	for _, f := range files {
		if f != head.MetaFile {
			weights = append(weights, f)
		}
	}
	sum, err := HashFiles(ctx, dir, weights)
	if err != nil {
		return "", err
	}
	meta, err := json.Marshal(struct {
		Sum    string
		Config head.Config
		Labels []string
		Range  *[2]float64
	}{sum, h.Config, h.Labels, h.Range})
	if err != nil {
		return "", fmt.Errorf("model %s: %w", dir, err)
	}
	all := sha256.Sum256(meta)
	return hex.EncodeToString(all[:]), nil
}

func (c *staticClassifier) Info() *Info { return c.info }

// Predict embeds each text (after the model's normalizer) and runs the head
// on the batch in plain Go.
func (c *staticClassifier) Predict(texts []string, out []Prediction) error {
	if len(out) < len(texts) {
		return fmt.Errorf("predict: %d results for %d texts", len(out), len(texts))
	}
	s, ok := c.pool.Get().(*staticScratch)
	if !ok {
		s = &staticScratch{}
	}
	defer c.pool.Put(s)
	d, k := c.emb.Dim(), c.head.Config.Outputs
	s.x = grow(s.x, len(texts)*d)
	s.out = grow(s.out, len(texts)*k)
	for i, text := range texts {
		if c.norm != nil {
			text = c.norm.Normalize(text)
		}
		c.emb.Encode(s.x[i*d:(i+1)*d], text)
	}
	outputs, err := c.head.Forward(s.out, s.x, &s.s)
	if err != nil {
		return err
	}
	for i := range texts {
		p, o := &out[i], outputs[i*k:(i+1)*k]
		if c.value {
			c.info.Scoring.ApplyValue(p, float64(o[0]))
			continue
		}
		head.Softmax(o)
		if cap(p.Probs) < k {
			p.Probs = make([]float32, k)
		}
		p.Probs = append(p.Probs[:0], o...)
		c.info.Scoring.Apply(p)
	}
	return nil
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// model2vecEmbedder is a Model2Vec model as an Embedder.
type model2vecEmbedder struct {
	info EmbedderInfo
	m    *model2vec.Model
}

func (e *model2vecEmbedder) Info() EmbedderInfo { return e.info }

func (e *model2vecEmbedder) Embed(texts []string, out []float32) error {
	if len(out) != len(texts)*e.info.Dim {
		return fmt.Errorf("embed: %d values for %d texts of dimension %d", len(out), len(texts), e.info.Dim)
	}
	e.m.EncodeBatch(texts, out)
	return nil
}

// model2vecLayouts are the file sets of a Model2Vec directory: model2vec's
// own and the sentence-transformers layouts.
var model2vecLayouts = [][]string{
	{"config.json", "model.safetensors", "tokenizer.json"},
	{"config_sentence_transformers.json", "model.safetensors", "tokenizer.json"},
	{"config_sentence_transformers.json", "0_StaticEmbedding/model.safetensors", "0_StaticEmbedding/tokenizer.json"},
}

// Model2VecFiles lists the files of a Model2Vec directory that loading
// reads, relative to it, for hashing and copying.
func Model2VecFiles(dir string) ([]string, error) {
	names, ok, _ := model2vecLayout(func(n string) (bool, error) {
		_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(n)))
		return err == nil, nil
	})
	if !ok {
		return nil, fmt.Errorf("%s is not a Model2Vec directory (config.json, model.safetensors and tokenizer.json, or the sentence-transformers layout)", dir)
	}
	return names, nil
}

// remoteModel2VecFiles is Model2VecFiles for a directory on an object
// store; ok is false when dir has none of the layouts.
func remoteModel2VecFiles(ctx context.Context, dir string) ([]string, bool, error) {
	return model2vecLayout(func(n string) (bool, error) { return storage.Exists(ctx, storage.Join(dir, n)) })
}

// model2vecLayout returns the files of the first layout whose files all
// exist.
func model2vecLayout(exists func(name string) (bool, error)) ([]string, bool, error) {
	for _, layout := range model2vecLayouts {
		all := true
		for _, n := range layout {
			found, err := exists(n)
			if err != nil {
				return nil, false, err
			}
			all = all && found
		}
		if all {
			return append([]string(nil), layout...), true, nil
		}
	}
	return nil, false, nil
}

// isModel2Vec reports whether dir's safetensors hold a static embedding
// table (and not, e.g., a BERT checkpoint's embeddings.word_embeddings).
func isModel2Vec(dir string) bool {
	names, err := Model2VecFiles(dir)
	if err != nil {
		return false
	}
	f, err := safetensors.Open(filepath.Join(dir, filepath.FromSlash(names[1])))
	if err != nil {
		return false
	}
	defer f.Close()
	return f.Info("embeddings") != nil || f.Info("embedding.weight") != nil
}

// loadModel2VecEmbedder loads a Model2Vec directory, local or on an object
// store (copied once per process into a local directory, for the workers of
// a distributed run).
func loadModel2VecEmbedder(ctx context.Context, dir string, opts EmbedderOptions) (Embedder, bool, error) {
	local := dir
	if !storage.IsLocal(dir) {
		names, ok, err := remoteModel2VecFiles(ctx, dir)
		if err != nil || !ok {
			return nil, false, err
		}
		if local, err = LocalDir(ctx, dir, names); err != nil {
			return nil, false, err
		}
	}
	if !isModel2Vec(local) {
		return nil, false, nil
	}
	if opts.Pooling != "" {
		return nil, false, fmt.Errorf("%s is a Model2Vec model: it pools by its token weights, not by %q", dir, opts.Pooling)
	}
	names, err := Model2VecFiles(local)
	if err != nil {
		return nil, false, err
	}
	sum, err := HashFiles(ctx, local, names)
	if err != nil {
		return nil, false, err
	}
	m, err := model2vec.Load(local)
	if err != nil {
		return nil, false, err
	}
	return &model2vecEmbedder{
		info: EmbedderInfo{Kind: KindEmbeddingModel2Vec, Path: dir, SHA256: sum, Dim: m.Dim(), TokenizerHash: m.TokenizerHash()},
		m:    m,
	}, true, nil
}
