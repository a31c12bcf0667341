package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/winnowlabs/winnow/internal/version"
	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/models/evaluate"
	"github.com/winnowlabs/winnow/models/modeldir"
)

// EvalOptions configure Evaluate.
type EvalOptions struct {
	// Datasets are what the model is evaluated on, concatenated: dataset
	// directories of JSON rows (their test/ split, and valid/ where present),
	// or, for a fastText model, also to-fasttext directories (test.txt and
	// valid.txt).
	Datasets []string
	// ModelDir is a model directory written by Train.
	ModelDir string
	// Fields select the text and label of dataset rows.
	Fields Fields
	// PositiveFrom, when set, binarizes numeric labels for the ranking
	// metrics of regressors and rankers (ROC AUC, best F1): a label of at
	// least this value is positive.
	PositiveFrom *float64
	// Load tunes how the model is loaded: an encoder's backend, forward
	// batch size and maximum length (the zero value: the defaults).
	Load models.LoadOptions
	// Log receives one-line status messages; it may be nil.
	Log io.Writer
}

// SplitResult is the evaluation of one split.
type SplitResult struct {
	Split string             `json:"split"`
	Files []modeldir.DataRef `json:"files"`
	// Fingerprint is the SHA-256 over the split's files.
	Fingerprint string `json:"fingerprint"`
	// Examples is the number of evaluated rows or lines.
	Examples int64 `json:"examples"`
	// PrecisionAt1 and RecallAt1 are what `fasttext test` prints (P@1,
	// R@1), for fastText data directories; nil when undefined.
	PrecisionAt1 *float64 `json:"precision_at_1,omitempty"`
	RecallAt1    *float64 `json:"recall_at_1,omitempty"`
	// Report is the scikit-learn style report of a classifier's top-1
	// predictions, with ROC AUC from the predicted probabilities.
	Report *evaluate.Report `json:"report,omitempty"`
	// Regression holds a regressor's metrics (MSE, MAE, R², the report of
	// its rounded predictions).
	Regression *evaluate.RegressionReport `json:"regression,omitempty"`
	// Ranking holds how well a regressor's or ranker's scores order the
	// rows by label (Spearman, Kendall, ROC AUC, best-threshold F1).
	Ranking *evaluate.RankingReport `json:"ranking,omitempty"`
	// Threshold is the score from which a regressor or ranker calls a row
	// positive in Report (binary labels); ThresholdFrom is the split it
	// was chosen on as the best F1 ("valid", or this split without one).
	Threshold     *float64 `json:"threshold,omitempty"`
	ThresholdFrom string   `json:"threshold_from,omitempty"`
}

// Results are what Evaluate saves in the model directory.
type Results struct {
	ModelDir    string         `json:"model_dir"`
	Kind        string         `json:"kind"`
	Datasets    []string       `json:"datasets"`
	Splits      []*SplitResult `json:"splits"`
	CodeVersion string         `json:"code_version"`
	CreatedAt   time.Time      `json:"created_at"`
	// File is where the results were saved.
	File string `json:"-"`
}

// Text renders the results per split: fastText's test lines where they
// apply, then the report.
func (r *Results) Text() string {
	var b strings.Builder
	for _, s := range r.Splits {
		fmt.Fprintf(&b, "== %s (%d files, fingerprint %s)\n", s.Split, len(s.Files), s.Fingerprint[:12])
		if s.PrecisionAt1 != nil || s.RecallAt1 != nil {
			fmt.Fprintf(&b, "N\t%d\nP@1\t%s\nR@1\t%s\n\n", s.Examples, fmtG3(s.PrecisionAt1), fmtG3(s.RecallAt1))
		} else {
			fmt.Fprintf(&b, "N\t%d\n\n", s.Examples)
		}
		if s.Threshold != nil {
			fmt.Fprintf(&b, "rows scoring at least %.4g (the best F1 on the %s split) called positive:\n", *s.Threshold, s.ThresholdFrom)
		}
		if s.Report != nil {
			b.WriteString(s.Report.Format(4))
		}
		if s.Regression != nil {
			b.WriteString(s.Regression.String())
			b.WriteString("\n")
		}
		if s.Ranking != nil {
			b.WriteString(s.Ranking.String())
		}
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
// validation) splits, saves the results as results_<fingerprint>.json in
// the model directory and records the metrics in its manifest.
func Evaluate(ctx context.Context, o EvalOptions) (*Results, error) {
	if len(o.Datasets) == 0 {
		return nil, errors.New("no evaluation data given")
	}
	// The results are written into the model directory.
	ctx, release, err := claimModelDir(ctx, o.ModelDir, o.Datasets, "eval", o.Log)
	if err != nil {
		return nil, err
	}
	defer release()
	man, err := modeldir.Read(o.ModelDir)
	if err != nil {
		return nil, err
	}
	res := &Results{ModelDir: o.ModelDir, Kind: man.Kind, Datasets: o.Datasets, CodeVersion: version.String(), CreatedAt: time.Now().UTC()}
	ftData, err := isFastTextData(ctx, o.Datasets[0])
	if err != nil {
		return nil, err
	}
	switch {
	case ftData && man.Kind == models.KindFastText:
		res.Splits, err = evaluateFastText(ctx, o, man)
	case ftData:
		err = fmt.Errorf("%s holds fastText training files (to-fasttext output); a %s model is evaluated on a dataset of JSON rows", o.Datasets[0], man.Kind)
	default:
		res.Splits, err = evaluateRows(ctx, o, man)
	}
	if err != nil {
		return nil, err
	}
	if err := save(res, man); err != nil {
		return nil, err
	}
	return res, nil
}

// evaluateRows scores the model, loaded as score and filter load it (its
// normalizer applied), on the test and valid splits of datasets of JSON
// rows.
func evaluateRows(ctx context.Context, o EvalOptions, man *modeldir.Manifest) ([]*SplitResult, error) {
	splits, err := discoverSplits(ctx, o.Datasets)
	if err != nil {
		return nil, err
	}
	if len(splits["test"]) == 0 {
		return nil, fmt.Errorf("no test split in %s", strings.Join(o.Datasets, ", "))
	}
	clf, err := models.Load(ctx, o.ModelDir, o.Load)
	if err != nil {
		return nil, err
	}
	// The valid split goes first: a regressor's or ranker's decision
	// threshold is chosen there and applied to the test split.
	var out []*SplitResult
	var threshold *float64
	for _, name := range []string{"valid", "test"} {
		if len(splits[name]) == 0 {
			continue
		}
		sd, err := readSplit(ctx, name, splits[name], o.Fields)
		if err != nil {
			return nil, err
		}
		logf(o.Log, "evaluating on %d %s rows", len(sd.examples), name)
		preds, err := predictAll(ctx, clf, sd.examples)
		if err != nil {
			return nil, err
		}
		sr := &SplitResult{Split: name, Files: sd.files, Fingerprint: sd.fingerprint, Examples: int64(len(sd.examples))}
		if clf.Info().Scoring.Mode == models.ScoreValue {
			err = valueReports(sr, clf.Info(), man.Task, sd.examples, preds, o.PositiveFrom, threshold)
			if sr.Ranking != nil && sr.Ranking.BestThreshold != nil && name == "valid" {
				threshold = sr.Ranking.BestThreshold
			}
		} else {
			sr.Report, err = classificationReport(clf.Info(), sd.examples, preds)
		}
		if err != nil {
			return nil, fmt.Errorf("%s split: %w", name, err)
		}
		out = append([]*SplitResult{sr}, out...) // test first
	}
	return out, nil
}

// predictAll predicts every example on all cores.
func predictAll(ctx context.Context, clf models.Classifier, ex []example) ([]models.Prediction, error) {
	preds := make([]models.Prediction, len(ex))
	const chunk = 256
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for start := 0; start < len(ex); start += chunk {
		end := min(start+chunk, len(ex))
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			texts := make([]string, end-start)
			for i := range texts {
				texts[i] = ex[start+i].text
			}
			return clf.Predict(texts, preds[start:end])
		})
	}
	return preds, g.Wait()
}

// classificationReport compares a classifier's top labels with the true
// labels, which the model must know.
func classificationReport(info *models.Info, ex []example, preds []models.Prediction) (*evaluate.Report, error) {
	known := map[string]bool{}
	for _, l := range info.Labels {
		known[l] = true
	}
	yTrue := make([]string, len(ex))
	yPred := make([]string, len(ex))
	for i, e := range ex {
		if !known[e.label] {
			return nil, fmt.Errorf("label %q of row %d was never seen in training (the model knows %s)", e.label, i+1, strings.Join(info.Labels, ", "))
		}
		yTrue[i] = e.label
		yPred[i] = info.Labels[preds[i].Top]
	}
	classes := evaluate.UniqueLabels(info.Labels)
	col := map[string]int{}
	for i, c := range classes {
		col[c] = i
	}
	scores := make([][]float64, len(ex))
	for i, p := range preds {
		scores[i] = make([]float64, len(classes))
		for j, v := range p.Probs {
			scores[i][col[info.Labels[j]]] = float64(v)
		}
	}
	rep, err := evaluate.Classify(yTrue, yPred, classes)
	if err != nil {
		return nil, err
	}
	if err := rep.AddScores(yTrue, scores); err != nil {
		return nil, err
	}
	return rep, nil
}

// valueReports evaluates a model whose output is its score: a regressor
// gets the regression report and the ranking report, a ranker the ranking
// report.
//
// With binary labels (or positiveFrom), the rows scoring at least a
// threshold are also classified as positive and get a classification
// report: the threshold is the given one (chosen on the valid split) or,
// without one, the best on this split itself, which SplitResult says.
func valueReports(sr *SplitResult, info *models.Info, task string, ex []example, preds []models.Prediction, positiveFrom, threshold *float64) error {
	yTrue := make([]float64, len(ex))
	yPred := make([]float64, len(ex))
	for i, e := range ex {
		v, err := numericLabel(e.label)
		if err != nil {
			return fmt.Errorf("row %d: %w", i+1, err)
		}
		yTrue[i], yPred[i] = v, preds[i].Score
	}
	var err error
	if task != modeldir.TaskRanking {
		if sr.Regression, err = evaluate.Regress(yTrue, yPred, info.Scoring.Min, info.Scoring.Max); err != nil {
			return err
		}
	}
	if sr.Ranking, err = evaluate.Rank(yPred, yTrue, evaluate.RankOptions{PositiveFrom: positiveFrom}); err != nil {
		return err
	}
	sr.ThresholdFrom = "valid"
	if threshold == nil {
		threshold, sr.ThresholdFrom = sr.Ranking.BestThreshold, sr.Split
	}
	if threshold == nil || sr.Ranking.Positives == 0 {
		sr.ThresholdFrom = ""
		return nil
	}
	// Binary labels: positive from positiveFrom, or the greater of two
	// values (as Rank binarizes them).
	cut := positiveFrom
	if cut == nil {
		hi := slices.Max(yTrue)
		cut = &hi
	}
	yt, yp := make([]string, len(ex)), make([]string, len(ex))
	for i := range ex {
		yt[i], yp[i] = "neg", "neg"
		if yTrue[i] >= *cut {
			yt[i] = "pos"
		}
		if yPred[i] >= *threshold {
			yp[i] = "pos"
		}
	}
	sr.Threshold = threshold
	sr.Report, err = evaluate.Classify(yt, yp, []string{"neg", "pos"})
	return err
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
			"examples":     s.Examples,
			"fingerprint":  s.Fingerprint,
			"results_file": name,
		}
		if s.PrecisionAt1 != nil || s.RecallAt1 != nil {
			m["precision_at_1"], m["recall_at_1"] = s.PrecisionAt1, s.RecallAt1
		}
		if r := s.Report; r != nil {
			m["accuracy"] = r.Accuracy
			m["macro_precision"] = r.MacroAvg.Precision
			m["macro_recall"] = r.MacroAvg.Recall
			m["macro_f1"] = r.MacroAvg.F1
			m["weighted_f1"] = r.WeightedAvg.F1
			m["samples"] = r.Samples
			if r.AUC != nil {
				m["auc"] = *r.AUC
			}
		}
		if r := s.Regression; r != nil {
			m["mse"], m["mae"], m["r2"] = r.MSE, r.MAE, r.R2
			m["rounded_macro_f1"] = r.MacroF1()
			m["samples"] = r.Samples
		}
		if r := s.Ranking; r != nil {
			m["spearman"], m["kendall_tau_b"] = r.Spearman, r.KendallB
			if r.AUC != nil {
				m["auc"] = *r.AUC
			}
			if r.BestF1 != nil {
				m["best_f1"], m["best_threshold"] = *r.BestF1, *r.BestThreshold
			}
			m["samples"] = r.Samples
		}
		man.Metrics[s.Split] = m
	}
	return modeldir.Write(res.ModelDir, man)
}
