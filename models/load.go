package models

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/winnowlabs/winnow/models/encoder"
	"github.com/winnowlabs/winnow/models/fasttext"
	"github.com/winnowlabs/winnow/models/modeldir"
	"github.com/winnowlabs/winnow/transforms/hfhub"
	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// KindFastText is the Kind of fastText models.
const KindFastText = "fasttext"

// LoadOptions tune Load.
type LoadOptions struct {
	// Name overrides the model's name (default: the base name of the model
	// directory or file).
	Name string
	// Normalizer names the normalizer of a model without a manifest
	// (default normalize.Newlines). For a model directory it may only repeat the
	// manifest's.
	Normalizer string
	// Tokenizer is the tokenizer.json of tokenizer-based normalizers; for a
	// model directory it overrides the recorded path (the hash must match).
	Tokenizer string
	// PositiveLabel is the label whose probability is the score (default
	// "pos" for binary models; see NewScoring).
	PositiveLabel string
	// SHA256, when set, is the model file's expected hash: a worker loading
	// the model a driver checked refuses a file that changed since.
	SHA256 string
	// Backend is the GoMLX backend spec of encoders (default "go"; see
	// models/gomlxbackend).
	Backend string
	// BatchSize is the most texts an encoder runs in one forward pass
	// (default encoder.DefaultBatchSize), with at most 256 padded tokens
	// per text on average when it is larger; MaxLength lowers the number
	// of tokens an encoder truncates texts to.
	BatchSize int
	MaxLength int
}

// fastTextMagic starts every fastText .bin and .ftz file (int32, little
// endian).
const fastTextMagic = 793712314

// Load opens the model at path, a model directory or a model file (local,
// gs://, s3:// or memfs://), and detects its kind:
//
//   - a directory with manifest.json (written by train-fasttext) is loaded
//     as its manifest says, with the recorded normalizer;
//   - a directory without one holding model.bin or model.ftz, or a file
//     starting with fastText's magic number, is an external fastText
//     model (e.g. lid.176.ftz, DCLM's or Ultra-FineWeb's classifiers),
//     normalized with opts.Normalizer (default normalize.Newlines);
//   - a directory without one holding a Hugging Face config.json is an
//     encoder (a BertForSequenceClassification directory as transformers
//     saves it, e.g. the FineWeb-Edu classifier), run on GoMLX: see
//     models/encoder. Its text is not normalized unless opts.Normalizer
//     names a normalizer.
//
// Model directories of the other kinds (Model2Vec heads, contrastive
// rankers, ...) are loaded by the loader registered for their manifest's
// kind.
//
// A Hugging Face Hub reference, hf://OWNER/NAME[@REVISION][/PATH] or a
// bare OWNER/NAME that is not a local path, is first fetched into the Hub
// cache (ResolvePath) and named after the repository (or PATH).
func Load(ctx context.Context, path string, opts LoadOptions) (Classifier, error) {
	local, ref, err := hfhub.ResolveModel(ctx, path, nil)
	if err != nil {
		return nil, err
	}
	if ref != nil && opts.Name == "" {
		opts.Name = defaultName(ref.Name())
	}
	path = local
	file, kind, man, err := locate(ctx, path)
	if err != nil {
		return nil, err
	}
	if man == nil && kind == KindEncoder {
		return loadEncoder(ctx, path, nil, opts)
	}
	var want *normalize.Spec
	if man != nil {
		if man.Kind != KindFastText {
			l, ok := kindLoaders[man.Kind]
			if !ok {
				return nil, fmt.Errorf("model %s is of kind %q, which this build does not know (known: %s)", path, man.Kind, strings.Join(Kinds(), ", "))
			}
			return l(ctx, path, man, opts)
		}
		want = &man.Normalizer
	}
	norm, err := normalizerFor(want, opts.Normalizer, opts.Tokenizer)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	m, sum, err := readFastText(ctx, file)
	if err != nil {
		return nil, err
	}
	if opts.SHA256 != "" && sum != opts.SHA256 {
		return nil, fmt.Errorf("model %s has SHA-256 %s, not the expected %s: it changed since the run started", file, sum, opts.SHA256)
	}
	name, err := modelName(path, opts)
	if err != nil {
		return nil, err
	}
	info := &Info{
		Kind: KindFastText, Name: name, Path: file, SHA256: sum,
		Labels: fastTextLabels(m), Normalizer: normalize.Describe(norm), Manifest: man,
	}
	if info.Scoring, err = NewScoring(info.Labels, opts.PositiveLabel); err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	return newFastText(m, info, norm), nil
}

// File returns the model file that Load reads for path (a model directory,
// a model file or a Hub reference).
func File(ctx context.Context, path string) (string, error) {
	path, err := ResolvePath(ctx, path)
	if err != nil {
		return "", err
	}
	file, _, _, err := locate(ctx, path)
	return file, err
}

// ResolvePath returns a local path for a model path: a Hugging Face Hub
// reference (hf://OWNER/NAME[@REVISION][/PATH], or a bare OWNER/NAME that
// is not a local path) is fetched into the Hub cache, as far as the files
// of allow (hfhub.ModelFiles when none) go, and its snapshot path returned;
// any other path comes back unchanged. Base models of training stages
// resolve through it.
func ResolvePath(ctx context.Context, path string, allow ...string) (string, error) {
	local, _, err := hfhub.ResolveModel(ctx, path, allow)
	return local, err
}

// locate finds the model file of path and its kind, and, for a model
// directory, its manifest. A Hugging Face encoder directory without a
// manifest is of kind KindEncoder, its file the checkpoint.
func locate(ctx context.Context, path string) (file, kind string, man *modeldir.Manifest, err error) {
	isDir, err := storage.IsDir(ctx, path)
	if err != nil {
		return "", "", nil, err
	}
	if !isDir {
		ok, err := storage.Exists(ctx, path)
		if err != nil {
			return "", "", nil, err
		}
		if !ok {
			return "", "", nil, fmt.Errorf("model %s: no such file or directory", path)
		}
		if err := checkFastTextMagic(ctx, path); err != nil {
			return "", "", nil, err
		}
		return path, KindFastText, nil, nil
	}
	man, err = readManifest(ctx, path)
	if err != nil && !errors.Is(err, modeldir.ErrNoManifest) {
		return "", "", nil, err
	}
	if man != nil {
		return storage.Join(path, man.File), man.Kind, man, nil
	}
	for _, name := range []string{"model.bin", "model.ftz"} {
		p := storage.Join(path, name)
		if ok, err := storage.Exists(ctx, p); err != nil {
			return "", "", nil, err
		} else if ok {
			return p, KindFastText, nil, checkFastTextMagic(ctx, p)
		}
	}
	if storage.IsLocal(path) && isModel2Vec(path) {
		return "", "", nil, fmt.Errorf("model %s is a Model2Vec model (static embeddings) without %s: it embeds text but does not classify it; train a head on it (winnow train-model2vec -m %s)", path, modeldir.ManifestName, path)
	}
	if ok, err := isEncoderDir(ctx, path); err != nil {
		return "", "", nil, err
	} else if ok {
		files, err := encoderFiles(ctx, path)
		if err != nil {
			return "", "", nil, err
		}
		weights := encoder.WeightsFile(files)
		if weights == "" {
			weights = "config.json" // the loader names what is missing
		}
		return storage.Join(path, weights), KindEncoder, nil, nil
	}
	return "", "", nil, fmt.Errorf("model directory %s has neither %s, model.bin/model.ftz nor a Hugging Face config.json", path, modeldir.ManifestName)
}

// readManifest reads dir's manifest on any filesystem; it returns an error
// wrapping modeldir.ErrNoManifest when there is none.
func readManifest(ctx context.Context, dir string) (*modeldir.Manifest, error) {
	p := storage.Join(dir, modeldir.ManifestName)
	ok, err := storage.Exists(ctx, p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s: %w", dir, modeldir.ErrNoManifest)
	}
	if storage.IsLocal(dir) {
		return modeldir.Read(dir)
	}
	b, err := storage.ReadFile(ctx, p)
	if err != nil {
		return nil, err
	}
	var m modeldir.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse model manifest %s: %w", p, err)
	}
	if m.Kind == "" || m.File == "" {
		return nil, fmt.Errorf("model manifest %s: missing kind or file", p)
	}
	return &m, nil
}

func checkFastTextMagic(ctx context.Context, path string) error {
	r, err := storage.Open(ctx, path)
	if err != nil {
		return err
	}
	defer r.Close()
	var magic int32
	if err := binary.Read(r, binary.LittleEndian, &magic); err != nil || magic != fastTextMagic {
		return fmt.Errorf("model %s is not a fastText .bin/.ftz file (nor a model directory); this build loads fastText models only", path)
	}
	return nil
}

// readFastText loads a fastText model file and hashes it in the same read.
func readFastText(ctx context.Context, path string) (*fasttext.Model, string, error) {
	r, err := storage.Open(ctx, path)
	if err != nil {
		return nil, "", err
	}
	defer r.Close()
	h := sha256.New()
	tee := io.TeeReader(bufio.NewReaderSize(r, 1<<20), h)
	m, err := fasttext.Read(tee)
	if err == nil {
		_, err = io.Copy(io.Discard, tee) // hash what the decoder did not read
	}
	if err != nil {
		return nil, "", fmt.Errorf("load fastText model %s: %w", path, err)
	}
	return m, hex.EncodeToString(h.Sum(nil)), nil
}

// modelName is opts.Name or the name derived from path, checked.
func modelName(path string, opts LoadOptions) (string, error) {
	name := opts.Name
	if name == "" {
		name = defaultName(path)
	}
	if !validName.MatchString(name) {
		return "", fmt.Errorf("model name %q: use letters, digits, '-' and '_'", name)
	}
	return name, nil
}

var (
	validName   = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	invalidChar = regexp.MustCompile(`[^A-Za-z0-9_-]`)
)

// defaultName derives a model name from its path: "models/legal-ft" →
// "legal-ft", "lid.176.ftz" → "lid_176".
func defaultName(path string) string {
	base := storage.Base(storage.Clean(path))
	for _, ext := range []string{".bin", ".ftz"} {
		base = strings.TrimSuffix(base, ext)
	}
	name := invalidChar.ReplaceAllString(base, "_")
	if name == "" {
		return "model"
	}
	return name
}
