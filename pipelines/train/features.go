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
	texts [1]string
	vec   []float32
	raw   []byte
}

// newEmbedOp builds the op, loading the model once per process.
func newEmbedOp(ctx context.Context, a EmbedArgs) (*embedOp, error) {
	a.Fields = a.Fields.withDefaults()
	e, err := models.SharedEmbedder(ctx, a.Model, a.SHA256)
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

func (o *embedOp) Apply(r *rows.Row) (bool, error) {
	obj, err := r.Object()
	if err != nil {
		return false, err
	}
	text, err := rows.TextOf(o.text, obj)
	if err != nil {
		return false, err
	}
	label, err := rows.LabelOf(o.label, obj)
	if err != nil {
		return false, err
	}
	if o.norm != nil {
		text = o.norm.Normalize(text)
	}
	s, ok := o.pool.Get().(*embedScratch)
	if !ok {
		s = &embedScratch{vec: make([]float32, o.dim), raw: make([]byte, 4*o.dim)}
	}
	defer o.pool.Put(s)
	s.texts[0] = text
	err = o.e.Embed(s.texts[:], s.vec)
	s.texts[0] = ""
	if err != nil {
		return false, err
	}
	for i, v := range s.vec {
		binary.LittleEndian.PutUint32(s.raw[4*i:], math.Float32bits(v))
	}
	line := make([]byte, 0, 24+len(label)+base64.StdEncoding.EncodedLen(len(s.raw)))
	line = append(line, `{"label":`...)
	line = strconv.AppendQuote(line, label)
	line = append(line, `,"x":"`...)
	line = base64.StdEncoding.AppendEncode(line, s.raw)
	line = append(line, `"}`...)
	r.SetLine(line)
	return true, nil
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
		return nil, fmt.Errorf("embed the training data: the job was submitted without waiting; training needs its result (drop --async)")
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
	names, err := models.Model2VecFiles(base)
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
