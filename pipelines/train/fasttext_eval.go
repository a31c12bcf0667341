package train

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/winnowlabs/winnow/models/evaluate"
	"github.com/winnowlabs/winnow/models/fasttext"
	"github.com/winnowlabs/winnow/models/modeldir"
	"github.com/winnowlabs/winnow/transforms/ftdata"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// evaluateFastText scores a fastText model on the test (and validation)
// files of to-fasttext directories, which must have been normalized as the
// model's training data was.
func evaluateFastText(ctx context.Context, o EvalOptions, man *modeldir.Manifest) ([]*SplitResult, error) {
	sets, norm, err := readDatasets(ctx, o.Datasets)
	if err != nil {
		return nil, err
	}
	if norm != man.Normalizer {
		return nil, fmt.Errorf("the data was normalized with %s but the model was trained on text normalized with %s; re-run to-fasttext with the model's normalizer",
			describe(norm), describe(man.Normalizer))
	}
	m, err := fasttext.Load(man.ModelPath(o.ModelDir))
	if err != nil {
		return nil, err
	}
	prefix := m.Args().Label
	if p, ok := man.TrainingArgs["label"].(string); ok && p != "" {
		prefix = p
	}
	var out []*SplitResult
	for _, split := range []string{ftdata.TestName, ftdata.ValidName} {
		var files []string
		for _, s := range sets {
			p := storage.Join(s.dir, split)
			ok, err := storage.Exists(ctx, p)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", p, err)
			}
			if ok {
				files = append(files, p)
			} else if split == ftdata.TestName {
				return nil, fmt.Errorf("data directory %s has no %s", s.dir, split)
			}
		}
		if len(files) == 0 {
			continue
		}
		sr, err := evaluateSplit(ctx, m, prefix, strings.TrimSuffix(split, ".txt"), files)
		if err != nil {
			return nil, err
		}
		out = append(out, sr)
	}
	return out, nil
}

// evaluateSplit predicts every line of files.
func evaluateSplit(ctx context.Context, m *fasttext.Model, prefix, split string, files []string) (*SplitResult, error) {
	sr := &SplitResult{Split: split}
	total := sha256.New()
	for _, f := range files {
		ref, _, err := hashFile(ctx, f, total, nil)
		if err != nil {
			return nil, err
		}
		sr.Files = append(sr.Files, ref)
	}
	sr.Fingerprint = hex.EncodeToString(total.Sum(nil))

	// fastText's own test (P@1, R@1) over the concatenated files.
	var readers []io.Reader
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	for _, f := range files {
		fh, err := storage.Open(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		closers = append(closers, fh)
		readers = append(readers, fh, strings.NewReader("\n"))
	}
	tr, err := m.Test(io.MultiReader(readers...), 1, 0)
	if err != nil {
		return nil, fmt.Errorf("%s split: %w", split, err)
	}
	sr.Examples, sr.PrecisionAt1, sr.RecallAt1 = tr.Examples, finite(tr.PrecisionAtK()), finite(tr.RecallAtK())

	// Per-line predictions for the report.
	modelLabels := m.Labels()
	classes := make([]string, len(modelLabels))
	col := map[string]int{}
	for i, l := range modelLabels {
		classes[i] = strings.TrimPrefix(l, prefix)
	}
	var yTrue, yPred []string
	var probs [][]float64
	p := m.NewPredictor()
	var preds []fasttext.Prediction
	for _, f := range files {
		err := eachLine(ctx, f, func(lineNo int, line []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			gold := firstLabel(line, prefix)
			if gold == "" {
				if len(bytes.TrimSpace(line)) == 0 {
					return nil
				}
				return fmt.Errorf("%s:%d: line has no label (no word starts with %q)", f, lineNo, prefix)
			}
			preds = p.PredictBytes(preds[:0], line, -1, 0)
			row := make([]float64, len(classes))
			pred := ""
			for i, pr := range preds {
				row[pr.ID] = float64(pr.Prob)
				if i == 0 {
					pred = classes[pr.ID]
				}
			}
			yTrue = append(yTrue, gold)
			yPred = append(yPred, pred)
			probs = append(probs, row)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(yTrue) == 0 {
		return nil, fmt.Errorf("%s split has no labelled lines", split)
	}
	// Classes: the model's labels and any gold label it does not know,
	// sorted as scikit-learn sorts them.
	all := evaluate.UniqueLabels(classes, yTrue)
	for i, c := range all {
		col[c] = i
	}
	scores := make([][]float64, len(probs))
	for i, row := range probs {
		scores[i] = make([]float64, len(all))
		for j, v := range row {
			scores[i][col[classes[j]]] = v
		}
	}
	rep, err := evaluate.Classify(yTrue, yPred, all)
	if err != nil {
		return nil, fmt.Errorf("%s split: %w", split, err)
	}
	if err := rep.AddScores(yTrue, scores); err != nil {
		return nil, fmt.Errorf("%s split: %w", split, err)
	}
	sr.Report = rep
	return sr, nil
}

// firstLabel returns the first token of line that starts with prefix,
// without the prefix.
func firstLabel(line []byte, prefix string) string {
	for _, tok := range bytes.Fields(line) {
		if bytes.HasPrefix(tok, []byte(prefix)) {
			return string(tok[len(prefix):])
		}
	}
	return ""
}

// eachLine calls fn with each line of path (without the newline).
func eachLine(ctx context.Context, path string, fn func(lineNo int, line []byte) error) error {
	f, err := storage.Open(ctx, path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for n := 1; ; n++ {
		line, err := r.ReadSlice('\n')
		for errors.Is(err, bufio.ErrBufferFull) {
			var more []byte
			more, err = r.ReadSlice('\n')
			line = append(append([]byte(nil), line...), more...)
		}
		if len(line) > 0 {
			if ferr := fn(n, bytes.TrimSuffix(line, []byte{'\n'})); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
}
