package traineval

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/winnowlabs/winnow/internal/version"
	"github.com/winnowlabs/winnow/models/evaluate"
	"github.com/winnowlabs/winnow/models/fasttext"
	"github.com/winnowlabs/winnow/models/modeldir"
	outputs "github.com/winnowlabs/winnow/transforms/dataset"
	"github.com/winnowlabs/winnow/transforms/ftdata"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// EvalOptions configure Evaluate.
type EvalOptions struct {
	// Datasets are to-fasttext output directories; their test.txt files
	// (and valid.txt files, where present) are evaluated together.
	Datasets []string
	// ModelDir is a directory written by Train.
	ModelDir string
}

// SplitResult is the evaluation of one split.
type SplitResult struct {
	Split string             `json:"split"`
	Files []modeldir.DataRef `json:"files"`
	// Fingerprint is the SHA-256 over the split's files.
	Fingerprint string `json:"fingerprint"`
	// Examples, PrecisionAt1 and RecallAt1 are what `fasttext test` prints
	// (N, P@1, R@1).
	// The ratios are nil when undefined (no line has a label the model
	// knows).
	Examples     int64    `json:"examples"`
	PrecisionAt1 *float64 `json:"precision_at_1"`
	RecallAt1    *float64 `json:"recall_at_1"`
	// Report is the scikit-learn style report on the top-1 predictions
	// (the first label of each line is its class), with ROC AUC from the
	// predicted probabilities.
	Report *evaluate.Report `json:"report"`
}

// Results are what Evaluate saves in the model directory.
type Results struct {
	ModelDir    string         `json:"model_dir"`
	Datasets    []string       `json:"datasets"`
	Splits      []*SplitResult `json:"splits"`
	CodeVersion string         `json:"code_version"`
	CreatedAt   time.Time      `json:"created_at"`
	// File is where the results were saved.
	File string `json:"-"`
}

// Text renders the results as fastText's test lines followed by the
// classification report, per split.
func (r *Results) Text() string {
	var b strings.Builder
	for _, s := range r.Splits {
		fmt.Fprintf(&b, "== %s (%d files, fingerprint %s)\n", s.Split, len(s.Files), s.Fingerprint[:12])
		fmt.Fprintf(&b, "N\t%d\nP@1\t%s\nR@1\t%s\n\n", s.Examples, fmtG3(s.PrecisionAt1), fmtG3(s.RecallAt1))
		b.WriteString(s.Report.Format(4))
		b.WriteString("\n")
	}
	return b.String()
}

func fmtG3(v *float64) string {
	if v == nil {
		return "nan"
	}
	return fmt.Sprintf("%.3g", *v)
}

// finite returns &v, or nil for NaN and infinities.
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// Evaluate scores the model of o.ModelDir on the datasets' test (and
// validation) files, saves the results as results_<fingerprint>.json in the
// model directory and records the metrics in its manifest. The datasets must
// have been normalized as the model's training data was.
func Evaluate(ctx context.Context, o EvalOptions) (_ *Results, err error) {
	man, err := modeldir.Read(o.ModelDir)
	if err != nil {
		return nil, err
	}
	// The results are written into the model directory.
	ctx, claim, err := outputs.ClaimOutput(ctx, o.ModelDir, o.Datasets, "eval-fasttext", nil)
	if err != nil {
		return nil, err
	}
	defer func() { claim.Release(ctx, err != nil) }()
	if man.Kind != Kind {
		return nil, fmt.Errorf("model directory %s holds a %q model, not fastText", o.ModelDir, man.Kind)
	}
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
	res := &Results{ModelDir: o.ModelDir, Datasets: o.Datasets, CodeVersion: version.String(), CreatedAt: time.Now().UTC()}
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
		res.Splits = append(res.Splits, sr)
	}
	if err := save(res, man); err != nil {
		return nil, err
	}
	return res, nil
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

// save writes the results file and records the metrics in the manifest.
func save(res *Results, man *modeldir.Manifest) error {
	if len(res.Splits) == 0 {
		return errors.New("nothing to evaluate")
	}
	name := "results_" + res.Splits[0].Fingerprint[:6] + ".json"
	res.File = filepath.Join(res.ModelDir, name)
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encode evaluation results: %w", err)
	}
	tmp := res.File + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write evaluation results: %w", err)
	}
	if err := os.Rename(tmp, res.File); err != nil {
		return fmt.Errorf("write evaluation results: %w", err)
	}
	if man.Metrics == nil {
		man.Metrics = map[string]any{}
	}
	for _, s := range res.Splits {
		m := map[string]any{
			"examples":        s.Examples,
			"precision_at_1":  s.PrecisionAt1,
			"recall_at_1":     s.RecallAt1,
			"accuracy":        s.Report.Accuracy,
			"macro_precision": s.Report.MacroAvg.Precision,
			"macro_recall":    s.Report.MacroAvg.Recall,
			"macro_f1":        s.Report.MacroAvg.F1,
			"weighted_f1":     s.Report.WeightedAvg.F1,
			"samples":         s.Report.Samples,
			"fingerprint":     s.Fingerprint,
			"results_file":    name,
		}
		if s.Report.AUC != nil {
			m["auc"] = *s.Report.AUC
		}
		man.Metrics[s.Split] = m
	}
	return modeldir.Write(res.ModelDir, man)
}
