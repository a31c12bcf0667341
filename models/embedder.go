package models

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Embedder turns texts into fixed-size vectors: a Model2Vec static model's
// pooled embedding, or an encoder's [CLS] state. Heads are trained on these
// vectors. Implementations are safe for concurrent use.
type Embedder interface {
	// Info describes the embedding model.
	Info() EmbedderInfo
	// Embed writes the vector of texts[i] to out[i*Dim : (i+1)*Dim]; the
	// texts are given as the model sees them (already normalized).
	Embed(texts []string, out []float32) error
}

// EmbedderInfo describes an embedding model.
type EmbedderInfo struct {
	// Kind is the model family ("model2vec", "encoder").
	Kind string `json:"kind"`
	// Path is the model directory; SHA256 a hash over its files.
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	// Dim is the vector size.
	Dim int `json:"dim"`
	// TokenizerHash is the SHA-256 of the model's tokenizer.json.
	TokenizerHash string `json:"tokenizer_hash,omitempty"`
}

// EmbedderOptions tune how an embedding model is loaded and run. The zero
// value runs the model as it is meant to be used.
type EmbedderOptions struct {
	// Pooling overrides the model's own pooling: PoolingCLS takes an
	// encoder's last hidden state of [CLS] as it is (what the pooler of a
	// BertForSequenceClassification head reads), whatever pooling and
	// normalization a sentence-transformers model would apply.
	Pooling string `json:"pooling,omitempty"`
	// Backend is the GoMLX backend spec of encoders (default "go"); see
	// models/gomlxbackend.
	Backend string `json:"backend,omitempty"`
	// BatchSize and MaxLength tune encoders as LoadOptions does.
	BatchSize int `json:"batch_size,omitempty"`
	MaxLength int `json:"max_length,omitempty"`
}

// PoolingCLS is the EmbedderOptions.Pooling of an encoder's raw [CLS]
// state.
const PoolingCLS = "cls"

// An EmbedderLoader loads the embedding model in dir, or reports with ok
// false that dir is not a model of its kind.
type EmbedderLoader func(ctx context.Context, dir string, opts EmbedderOptions) (e Embedder, ok bool, err error)

var embedders = struct {
	sync.RWMutex
	m map[string]EmbedderLoader
}{m: map[string]EmbedderLoader{}}

// RegisterEmbedder makes a kind of embedding model loadable by
// LoadEmbedder.
func RegisterEmbedder(kind string, l EmbedderLoader) {
	embedders.Lock()
	defer embedders.Unlock()
	if _, dup := embedders.m[kind]; dup {
		panic("models: embedder kind registered twice: " + kind)
	}
	embedders.m[kind] = l
}

// LoadEmbedder loads the embedding model in dir (a local directory),
// whichever registered kind it is.
func LoadEmbedder(ctx context.Context, dir string, opts EmbedderOptions) (Embedder, error) {
	embedders.RLock()
	kinds := make([]string, 0, len(embedders.m))
	for k := range embedders.m {
		kinds = append(kinds, k)
	}
	embedders.RUnlock()
	sort.Strings(kinds)
	for _, k := range kinds {
		embedders.RLock()
		l := embedders.m[k]
		embedders.RUnlock()
		e, ok, err := l(ctx, dir, opts)
		if err != nil {
			return nil, err
		}
		if ok {
			return e, nil
		}
	}
	return nil, fmt.Errorf("%s is not an embedding model this build knows (%s)", dir, strings.Join(kinds, ", "))
}

// embedderCache shares loaded embedders across the ops of a process.
var embedderCache = struct {
	sync.Mutex
	m map[string]*embedderLoad
}{m: map[string]*embedderLoad{}}

type embedderLoad struct {
	once sync.Once
	e    Embedder
	err  error
}

// ReleaseEmbedders forgets the embedders SharedEmbedder loaded: those no
// longer in use can then be collected, and a later SharedEmbedder loads its
// model again. A step that used shared embedders calls it when its
// pipelines are done, so that a process running several steps (a flow)
// does not keep a base encoder while it loads the classifier trained on it.
func ReleaseEmbedders() {
	embedderCache.Lock()
	defer embedderCache.Unlock()
	clear(embedderCache.m)
}

// SharedEmbedder loads the embedder in dir with opts once per process;
// sha256, when set, must be its hash (a worker refuses a model that changed
// since the driver planned the run). A driver that loaded the model to
// plan the run and its workers in the same process share one copy.
func SharedEmbedder(ctx context.Context, dir, sha256 string, opts EmbedderOptions) (Embedder, error) {
	key := fmt.Sprintf("%s\x00%+v", dir, opts)
	embedderCache.Lock()
	l, ok := embedderCache.m[key]
	if !ok {
		l = &embedderLoad{}
		embedderCache.m[key] = l
	}
	embedderCache.Unlock()
	l.once.Do(func() { l.e, l.err = LoadEmbedder(ctx, dir, opts) })
	if l.err != nil {
		embedderCache.Lock()
		delete(embedderCache.m, key) // a later call may try again
		embedderCache.Unlock()
		return nil, l.err
	}
	if sha256 != "" && l.e.Info().SHA256 != sha256 {
		return nil, fmt.Errorf("embedding model %s has hash %s, not the expected %s: it changed since the run started", dir, l.e.Info().SHA256, sha256)
	}
	return l.e, nil
}
