package train

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"

	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/pipelines/runner"
	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardio"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// EmbedKind is the row op that replaces a row by its embedding and label.
const EmbedKind = "embed"

// EmbedArgs configure the "embed" op. It replaces each row by one feature
// record, {"label": "<the label as text>", "x": "<base64 of the vector as
// little-endian float32>"}: compact, exact and fast to read back.
type EmbedArgs struct {
	// Model is the embedding model's directory; SHA256 its hash, which
	// workers check.
	Model  string `json:"model"`
	SHA256 string `json:"sha256"`
	// Normalizer is applied to the text before embedding (none when its
	// name is empty).
	Normalizer normalize.Spec `json:"normalizer"`
	Fields     Fields         `json:"fields"`
	// Embedder tunes the model (an encoder's pooling, backend, batches).
	Embedder models.EmbedderOptions `json:"embedder,omitzero"`
}

type embedOp struct {
	e     models.Embedder
	dim   int
	norm  normalize.Normalizer
	text  *rows.Expr
	label *rows.Expr
	pool  sync.Pool // *embedScratch
}

type embedScratch struct {
	texts  []string
	labels []string
	idx    []int
	vecs   []float32
	raw    []byte
}

// newEmbedOp builds the op, loading the model once per process.
func newEmbedOp(ctx context.Context, a EmbedArgs) (*embedOp, error) {
	a.Fields = a.Fields.withDefaults()
	e, err := models.SharedEmbedder(ctx, a.Model, a.SHA256, a.Embedder)
	if err != nil {
		return nil, err
	}
	o := &embedOp{e: e, dim: e.Info().Dim}
	if a.Normalizer.Name != "" {
		if o.norm, err = normalize.FromSpec(a.Normalizer); err != nil {
			return nil, err
		}
	}
	if o.text, err = rows.Compile(a.Fields.TextExpression); err != nil {
		return nil, fmt.Errorf("text expression: %w", err)
	}
	if o.label, err = rows.Compile(a.Fields.LabelExpression); err != nil {
		return nil, fmt.Errorf("label expression: %w", err)
	}
	return o, nil
}

// Apply embeds one row.
func (o *embedOp) Apply(r *rows.Row) (bool, error) {
	rs, keep, errs := [1]*rows.Row{r}, [1]bool{}, [1]error{}
	o.ApplyBatch(rs[:], keep[:], errs[:])
	return keep[0], errs[0]
}

// ApplyBatch embeds the texts of all of rs in one call of the model (an
// encoder runs them in padded batches by length) and replaces each row by
// its feature record.
func (o *embedOp) ApplyBatch(rs []*rows.Row, keep []bool, errs []error) {
	s, ok := o.pool.Get().(*embedScratch)
	if !ok {
		s = &embedScratch{raw: make([]byte, 4*o.dim)}
	}
	defer o.pool.Put(s)
	s.texts, s.labels, s.idx = s.texts[:0], s.labels[:0], s.idx[:0]
	for i, r := range rs {
		keep[i] = false
		text, label, err := o.read(r)
		if errs[i] = err; err != nil {
			continue
		}
		s.idx = append(s.idx, i)
		s.texts, s.labels = append(s.texts, text), append(s.labels, label)
	}
	n := len(s.idx) * o.dim
	if cap(s.vecs) < n {
		s.vecs = make([]float32, n)
	}
	s.vecs = s.vecs[:n]
	err := o.e.Embed(s.texts, s.vecs)
	clear(s.texts)
	for j, i := range s.idx {
		if err != nil {
			errs[i] = err
			continue
		}
		for d, v := range s.vecs[j*o.dim : (j+1)*o.dim] {
			binary.LittleEndian.PutUint32(s.raw[4*d:], math.Float32bits(v))
		}
		line := make([]byte, 0, 24+len(s.labels[j])+base64.StdEncoding.EncodedLen(len(s.raw)))
		line = append(line, `{"label":`...)
		line = strconv.AppendQuote(line, s.labels[j])
		line = append(line, `,"x":"`...)
		line = base64.StdEncoding.AppendEncode(line, s.raw)
		line = append(line, `"}`...)
		rs[i].SetLine(line)
		keep[i] = true
	}
	clear(s.labels)
}

// read returns a row's text, normalized, and its label.
func (o *embedOp) read(r *rows.Row) (text, label string, err error) {
	obj, err := r.Object()
	if err != nil {
		return "", "", err
	}
	if text, err = rows.TextOf(o.text, obj); err != nil {
		return "", "", err
	}
	if label, err = rows.LabelOf(o.label, obj); err != nil {
		return "", "", err
	}
	if o.norm != nil {
		text = o.norm.Normalize(text)
	}
	return text, label, nil
}

func init() {
	rows.Register(EmbedKind, func(args, _ json.RawMessage) (rows.Op, error) {
		var a EmbedArgs
		if err := json.Unmarshal(args, &a); err != nil {
			return nil, fmt.Errorf("decode arguments: %w", err)
		}
		return newEmbedOp(context.Background(), a)
	})
}

// FeatureOptions configure computeFeatures.
type FeatureOptions struct {
	// Datasets are the dataset directories whose rows are embedded.
	Datasets []string
	// Dir is the feature directory: one shard of feature records per input
	// shard, resumable and reused while the model, normalizer and fields
	// are unchanged.
	Dir   string
	Embed EmbedArgs
	// Progress receives progress lines (nil: stderr); Quiet silences them.
	Progress io.Writer
	Quiet    bool
}

// computeFeatures embeds every row of the datasets with a Beam step, one
// feature shard per input shard, and returns the step's manifest. Shards
// already embedded with the same model are not embedded again.
func computeFeatures(ctx context.Context, o FeatureOptions) (*shardmap.Manifest, error) {
	spec, err := rows.NewSpec(EmbedKind, o.Embed)
	if err != nil {
		return nil, err
	}
	res, err := mapstep.Run(ctx, mapstep.Common{
		Inputs: o.Datasets, Output: o.Dir, Progress: o.Progress, Quiet: o.Quiet,
	}, mapstep.Step{Command: "embed", Options: o.Embed, Ops: []rows.Spec{spec}})
	if err != nil {
		return nil, fmt.Errorf("embed the training data: %w", err)
	}
	if res.Submitted {
		return nil, fmt.Errorf("embed the training data: the job was submitted without waiting; training needs its result, so it must wait for the job")
	}
	return res.Manifest, nil
}

// features are the embedded rows of one split.
type features struct {
	x      []float32 // n × dim
	dim    int
	labels []string
}

func (f *features) n() int { return len(f.labels) }

// readFeatures reads the feature shards of each split, in the manifest's
// (deterministic) order.
func readFeatures(ctx context.Context, m *shardmap.Manifest, dim int) (map[string]*features, error) {
	outs := append([]shardmap.OutputFile(nil), m.Outputs...)
	sort.SliceStable(outs, func(i, j int) bool { return outs[i].Path < outs[j].Path })
	by := map[string]*features{}
	var rec struct {
		Label string `json:"label"`
		X     []byte `json:"x"`
	}
	for _, o := range outs {
		f := by[o.Split]
		if f == nil {
			f = &features{dim: dim}
			by[o.Split] = f
		}
		r, err := shardio.Open(ctx, o.Path)
		if err != nil {
			return nil, err
		}
		for {
			line, err := r.Next()
			if err == io.EOF {
				break
			}
			if err == nil {
				rec.X = rec.X[:0]
				err = json.Unmarshal(line, &rec)
			}
			if err == nil && len(rec.X) != 4*dim {
				err = fmt.Errorf("vector of %d bytes, want %d (dim %d)", len(rec.X), 4*dim, dim)
			}
			if err != nil {
				r.Close()
				return nil, fmt.Errorf("%s:%d: %w", o.Path, r.Line(), err)
			}
			for i := 0; i < dim; i++ {
				f.x = append(f.x, math.Float32frombits(binary.LittleEndian.Uint32(rec.X[4*i:])))
			}
			f.labels = append(f.labels, rec.Label)
		}
		r.Close()
	}
	return by, nil
}

// featuresDirFor returns the features directory: the one given, or the
// model directory's path with ".features" appended, which is on this
// machine's disk and so refused when the workers run outside this process.
func featuresDirFor(given, modelDir string) (string, error) {
	if given != "" {
		return given, nil
	}
	if runner.Distributed() {
		return "", fmt.Errorf("the pooled rows are written by %s's workers: give a features directory they share (gs://, s3:// or a shared file system)", runner.Name())
	}
	return filepath.Clean(modelDir) + ".features", nil
}

// workerModel returns where the workers of the feature step read the base
// model: base itself, unless the workers run outside this process and base
// is on this machine's disk (a local directory, or one resolved into the
// local Hugging Face cache), in which case its files are copied once beside
// the pooled rows, into DIR/_base/SHA256[:12], on storage the workers share.
// The workers check the copy's hash.
func workerModel(ctx context.Context, base, sha string, featuresDir string) (string, error) {
	if !runner.Distributed() || !storage.IsLocal(base) {
		return base, nil
	}
	if storage.IsLocal(featuresDir) {
		// A shared file system: the workers see the same paths.
		return base, nil
	}
	names, err := models.EmbedderFiles(ctx, base)
	if err != nil {
		return "", err
	}
	dst := storage.Join(featuresDir, "_base", sha[:12])
	for _, name := range names {
		p := storage.Join(dst, name)
		if ok, err := storage.Exists(ctx, p); err != nil {
			return "", err
		} else if ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(base, filepath.FromSlash(name)))
		if err != nil {
			return "", fmt.Errorf("copy base model %s for the workers: %w", base, err)
		}
		if err := storage.WriteFile(ctx, p, b); err != nil {
			return "", fmt.Errorf("copy base model %s for the workers: %w", base, err)
		}
	}
	return dst, nil
}
