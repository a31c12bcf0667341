package train

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/winnowlabs/winnow/models/modeldir"
	"github.com/winnowlabs/winnow/transforms/dataset"
	"github.com/winnowlabs/winnow/transforms/ftdata"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardio"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// Fields select a row's text and label by jq expressions (defaults .text
// and .score, as everywhere in winnow).
type Fields struct {
	TextExpression  string `json:"text_expression,omitempty"`
	LabelExpression string `json:"label_expression,omitempty"`
}

func (f Fields) withDefaults() Fields {
	if f.TextExpression == "" {
		f.TextExpression = rows.DefaultTextExpression
	}
	if f.LabelExpression == "" {
		f.LabelExpression = rows.DefaultLabelExpression
	}
	return f
}

// example is one labelled row.
type example struct {
	text  string
	label string
}

// splitData is the labelled rows of one split of the concatenated datasets.
type splitData struct {
	name     string
	examples []example
	files    []modeldir.DataRef
	// fingerprint is a SHA-256 over the split's files' hashes.
	fingerprint string
}

// discoverSplits lists the shards of every dataset directory by split.
func discoverSplits(ctx context.Context, datasets []string) (map[string][]dataset.File, error) {
	files, err := dataset.Discover(ctx, datasets, dataset.Options{})
	if err != nil {
		return nil, err
	}
	by := map[string][]dataset.File{}
	for _, f := range files {
		if f.Split == "" {
			return nil, fmt.Errorf("%s is not in a train/, valid/ or test/ folder: training data must be split into train/ and test/ folders (import or reshard it with a test split)", f.Path)
		}
		by[f.Split] = append(by[f.Split], f)
	}
	return by, nil
}

// readSplit reads the text and label of every row of files. A row without
// text or label fails with its file and line.
func readSplit(ctx context.Context, name string, files []dataset.File, fields Fields) (*splitData, error) {
	fields = fields.withDefaults()
	textExpr, err := rows.Compile(fields.TextExpression)
	if err != nil {
		return nil, fmt.Errorf("text expression: %w", err)
	}
	labelExpr, err := rows.Compile(fields.LabelExpression)
	if err != nil {
		return nil, fmt.Errorf("label expression: %w", err)
	}
	sd := &splitData{name: name}
	total := sha256.New()
	for _, f := range files {
		h := sha256.New()
		n, err := eachRow(ctx, f.Path, h, func(r *rows.Row) error {
			obj, err := r.Object()
			if err != nil {
				return err
			}
			text, err := rows.TextOf(textExpr, obj)
			if err != nil {
				return err
			}
			label, err := rows.LabelOf(labelExpr, obj)
			if err != nil {
				return err
			}
			sd.examples = append(sd.examples, example{text: text, label: label})
			return nil
		})
		if err != nil {
			return nil, err
		}
		sum := hex.EncodeToString(h.Sum(nil))
		fmt.Fprintf(total, "%s %s\n", f.Rel, sum)
		sd.files = append(sd.files, modeldir.DataRef{Path: f.Path, Bytes: n, SHA256: sum})
	}
	if len(sd.examples) == 0 {
		return nil, fmt.Errorf("the %s split of %v has no rows", name, filesOf(files))
	}
	sd.fingerprint = hex.EncodeToString(total.Sum(nil))
	return sd, nil
}

func filesOf(files []dataset.File) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Path
	}
	return out
}

// eachRow calls fn with every row of the shard at path, hashing the
// uncompressed rows into h; it returns their size in bytes. fn's errors are
// reported with the file and line.
func eachRow(ctx context.Context, path string, h io.Writer, fn func(*rows.Row) error) (int64, error) {
	r, err := shardio.Open(ctx, path)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		line, err := r.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		h.Write(line)
		h.Write([]byte{'\n'})
		n += int64(len(line)) + 1
		row := rows.New(append([]byte(nil), line...), path, r.Line())
		if err := row.Validate(); err != nil {
			return n, fmt.Errorf("%s:%d: %w", path, r.Line(), err)
		}
		if err := fn(row); err != nil {
			return n, fmt.Errorf("%s:%d: %w", path, r.Line(), err)
		}
	}
}

// numericLabel parses a regression target.
func numericLabel(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("label %q is not a finite number, as a regression target must be", s)
	}
	return v, nil
}

// dataRefs returns the files of the splits as model manifests record them,
// and a fingerprint over them.
func dataRefs(splits ...*splitData) ([]modeldir.DataRef, string) {
	var refs []modeldir.DataRef
	h := sha256.New()
	for _, s := range splits {
		if s == nil {
			continue
		}
		refs = append(refs, s.files...)
		fmt.Fprintf(h, "%s %s\n", s.name, s.fingerprint)
	}
	return refs, hex.EncodeToString(h.Sum(nil))
}

// isFastTextData reports whether dir was written by `winnow to-fasttext`.
func isFastTextData(ctx context.Context, dir string) (bool, error) {
	return storage.Exists(ctx, storage.Join(dir, ftdata.ReportName))
}
