package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/winnowlabs/winnow/models/encoder"
	"github.com/winnowlabs/winnow/models/gomlxbackend"
	"github.com/winnowlabs/winnow/models/modeldir"
	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// KindEncoder is the kind of BERT-family encoder classifiers (a Hugging
// Face BertForSequenceClassification directory, with or without a winnow
// manifest) and of encoder embedders.
const KindEncoder = "encoder"

// DefaultEncoderRange is the score range of an encoder regressor whose
// directory does not record one: FineWeb-Edu's 0 to 5, which int_score is
// clipped to.
var DefaultEncoderRange = [2]float64{0, 5}

func init() {
	registerKind(KindEncoder, loadEncoder)
	RegisterEmbedder(KindEncoder, loadEncoderEmbedder)
}

// encoderClassifier runs a BertForSequenceClassification model.
type encoderClassifier struct {
	info  *Info
	m     *encoder.Model
	norm  normalize.Normalizer // nil: the text goes to the tokenizer as it is
	value bool                 // a regressor: the output is the score
}

// encoderFiles lists the files of the encoder directory dir, on any
// filesystem.
func encoderFiles(ctx context.Context, dir string) ([]string, error) {
	files, err := encoder.Files(
		func(name string) (bool, error) { return storage.Exists(ctx, storage.Join(dir, name)) },
		func(name string) ([]byte, error) { return storage.ReadFile(ctx, storage.Join(dir, name)) })
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", dir, err)
	}
	return files, nil
}

// EmbedderFiles lists the files of the embedding model (a Model2Vec model
// or an encoder) in the local directory dir.
func EmbedderFiles(ctx context.Context, dir string) ([]string, error) {
	if isModel2Vec(dir) {
		return Model2VecFiles(dir)
	}
	return encoderFiles(ctx, dir)
}

// isEncoderDir reports whether dir holds a Hugging Face model's
// config.json (and is not a Model2Vec model), which the encoder loader
// then reads or refuses with a reason.
func isEncoderDir(ctx context.Context, dir string) (bool, error) {
	b, ok, err := storage.ReadFileIfExists(ctx, storage.Join(dir, "config.json"))
	if err != nil || !ok {
		return false, err
	}
	var cfg struct {
		ModelType string `json:"model_type"`
	}
	if json.Unmarshal(b, &cfg) == nil && cfg.ModelType == "model2vec" {
		return false, nil
	}
	return !storage.IsLocal(dir) || !isModel2Vec(dir), nil
}

// encoderOptions are the encoder.Options of LoadOptions or
// EmbedderOptions: a larger batch is allowed proportionally more padded
// tokens.
func encoderOptions(batchSize, maxLength int) encoder.Options {
	o := encoder.Options{BatchSize: batchSize, MaxLength: maxLength}
	if batchSize > encoder.DefaultBatchSize {
		o.BatchTokens = encoder.DefaultBatchTokens / encoder.DefaultBatchSize * batchSize
	}
	return o
}

// openEncoder loads the encoder directory dir (copied locally from an
// object store) on the named backend; it returns the model and the hash
// of its files.
func openEncoder(ctx context.Context, dir, backend string, opts encoder.Options) (*encoder.Model, string, error) {
	files, err := encoderFiles(ctx, dir)
	if err != nil {
		return nil, "", err
	}
	local, err := LocalDir(ctx, dir, files)
	if err != nil {
		return nil, "", err
	}
	sum, err := HashFiles(ctx, local, files)
	if err != nil {
		return nil, "", err
	}
	if backend == "" {
		backend = gomlxbackend.Default
	}
	b, err := gomlxbackend.Open(backend)
	if err != nil {
		return nil, "", fmt.Errorf("model %s: %w", dir, err)
	}
	m, err := encoder.Load(local, b, opts)
	if err != nil {
		return nil, "", fmt.Errorf("model %s: %w", dir, err)
	}
	return m, sum, nil
}

// loadEncoder loads an encoder classifier: a directory with a manifest of
// kind "encoder" (man), or a Hugging Face directory without one (man nil).
func loadEncoder(ctx context.Context, dir string, man *modeldir.Manifest, opts LoadOptions) (Classifier, error) {
	m, sum, err := openEncoder(ctx, dir, opts.Backend, encoderOptions(opts.BatchSize, opts.MaxLength))
	if err != nil {
		return nil, err
	}
	fail := func(err error) (Classifier, error) {
		m.Close()
		return nil, err
	}
	c := &encoderClassifier{m: m}
	info := &Info{Kind: KindEncoder, Path: dir, Labels: m.Labels(), Manifest: man}
	var recorded normalize.Spec
	rng := DefaultEncoderRange
	if man != nil {
		recorded = man.Normalizer
		if man.TokenizerHash != "" && m.Tokenizer().Hash() != man.TokenizerHash {
			return fail(fmt.Errorf("model %s: its tokenizer has SHA-256 %s, but the model was trained with one whose SHA-256 is %s", dir, m.Tokenizer().Hash(), man.TokenizerHash))
		}
		if man.Range != nil {
			rng = *man.Range
		}
	}
	if recorded.Name != "" || opts.Normalizer != "" {
		if c.norm, err = normalizerFor(&recorded, opts.Normalizer, opts.Tokenizer); err != nil {
			return fail(fmt.Errorf("model %s: %w", dir, err))
		}
		info.Normalizer = normalize.Describe(c.norm)
	}
	switch m.Task() {
	case encoder.TaskEmbedding:
		return fail(fmt.Errorf("model %s is a %s (an embedding model): it embeds text but does not classify it; train an encoder classifier with it as the base", dir, encoder.ArchModel))
	case encoder.TaskRegression:
		c.value = true
		info.Labels = nil
		info.Scoring = NewValueScoring(rng[0], rng[1])
	case encoder.TaskMultiLabel:
		// Independent labels: every probability is written, and the most
		// probable label beside the score.
		info.MultiLabel = true
		info.Scoring = Scoring{Mode: ScoreTop, Min: 0, Max: 1}
		if opts.PositiveLabel != "" {
			info.Scoring, err = NewScoring(info.Labels, opts.PositiveLabel)
		}
	default:
		info.Scoring, err = NewScoring(info.Labels, opts.PositiveLabel)
	}
	if err != nil {
		return fail(fmt.Errorf("model %s: %w", dir, err))
	}
	if info.Name, err = modelName(dir, opts); err != nil {
		return fail(err)
	}
	// The version covers the files and how scores derive from the outputs.
	scoring, err := json.Marshal(info.Scoring)
	if err != nil {
		return fail(err)
	}
	all := sha256.Sum256(fmt.Appendf(nil, "%s\n%s\n%s\n", sum, scoring, info.Normalizer.Name+" "+info.Normalizer.Version))
	info.SHA256 = hex.EncodeToString(all[:])
	if opts.SHA256 != "" && info.SHA256 != opts.SHA256 {
		return fail(fmt.Errorf("model %s has hash %s, not the expected %s: it changed since the run started", dir, info.SHA256, opts.SHA256))
	}
	c.info = info
	return c, nil
}

func (c *encoderClassifier) Info() *Info { return c.info }

// Predict runs the encoder on all texts at once: they are grouped by token
// length into padded batches (see encoder.Model.Compute), and the results
// come back in input order.
func (c *encoderClassifier) Predict(texts []string, out []Prediction) error {
	if len(out) < len(texts) {
		return fmt.Errorf("predict: %d results for %d texts", len(out), len(texts))
	}
	if c.norm != nil {
		normalized := make([]string, len(texts))
		for i, t := range texts {
			normalized[i] = c.norm.Normalize(t)
		}
		texts = normalized
	}
	res, err := c.m.Predict(texts)
	if err != nil {
		return err
	}
	k := c.m.Dim()
	for i := range texts {
		p, o := &out[i], res[i*k:(i+1)*k]
		if c.value {
			c.info.Scoring.ApplyValue(p, float64(o[0]))
			continue
		}
		p.Probs = append(p.Probs[:0], o...)
		c.info.Scoring.Apply(p)
	}
	return nil
}

// encoderEmbedder is an encoder as an Embedder: a sentence-transformers
// model's pooled (and normalized) embedding, or the [CLS] state.
type encoderEmbedder struct {
	info EmbedderInfo
	m    *encoder.Model
	cls  bool // the raw [CLS] state rather than the model's own pooling
}

func loadEncoderEmbedder(ctx context.Context, dir string, opts EmbedderOptions) (Embedder, bool, error) {
	if ok, err := isEncoderDir(ctx, dir); err != nil || !ok {
		return nil, false, err
	}
	if opts.Pooling != "" && opts.Pooling != PoolingCLS {
		return nil, false, fmt.Errorf("encoder %s: pooling %q is not one of \"\" (the model's own) and %q", dir, opts.Pooling, PoolingCLS)
	}
	m, sum, err := openEncoder(ctx, dir, opts.Backend, encoderOptions(opts.BatchSize, opts.MaxLength))
	if err != nil {
		return nil, false, err
	}
	// A classifier has no pooling of its own for embeddings: its [CLS]
	// state is what its head reads.
	cls := opts.Pooling == PoolingCLS || m.Task() != encoder.TaskEmbedding
	e := &encoderEmbedder{m: m, cls: cls, info: EmbedderInfo{
		Kind: KindEncoder, Path: dir, SHA256: sum, Dim: m.Config().HiddenSize, TokenizerHash: m.Tokenizer().Hash(),
	}}
	return e, true, nil
}

func (e *encoderEmbedder) Info() EmbedderInfo { return e.info }

func (e *encoderEmbedder) Embed(texts []string, out []float32) error {
	if len(out) != len(texts)*e.info.Dim {
		return fmt.Errorf("embed: %d values for %d texts of dimension %d", len(out), len(texts), e.info.Dim)
	}
	var res []float32
	var err error
	if e.cls {
		res, err = e.m.Compute(texts, encoder.OutputCLS)
	} else {
		res, err = e.m.Predict(texts)
	}
	if err != nil {
		return err
	}
	copy(out, res)
	return nil
}

// EncoderOf returns the encoder behind an Embedder of kind KindEncoder (to
// read its pooler or configuration), or nil for another kind.
func EncoderOf(e Embedder) *encoder.Model {
	if ee, ok := e.(*encoderEmbedder); ok {
		return ee.m
	}
	return nil
}
