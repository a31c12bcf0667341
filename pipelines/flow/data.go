package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/transforms/dataset"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardio"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// PredictionsFile, in a train step's folder, holds the model's predictions
// on the test split, from which the report draws its curves.
const PredictionsFile = "predictions.json"

// Predictions are a model's predictions on the test rows.
type Predictions struct {
	// Labels are the model's labels; Mode its scoring mode.
	Labels []string `json:"labels"`
	Mode   string   `json:"mode"`
	// Positive is the scored label's index (mode "positive").
	Positive int `json:"positive"`
	// True are the rows' labels; Probs the predicted probabilities per
	// label; Scores the scalar scores.
	True   []string    `json:"true"`
	Probs  [][]float32 `json:"probs"`
	Scores []float64   `json:"scores"`
}

// eachRow calls fn with every row of the datasets' shards (split is the
// shard's split), in shard order.
func eachRow(ctx context.Context, dirs []string, fn func(split string, obj map[string]any) error) error {
	files, err := dataset.Discover(ctx, dirs, dataset.Options{})
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := shardio.Each(ctx, f.Path, func(line []byte, n int64) error {
			var obj map[string]any
			if err := json.Unmarshal(line, &obj); err != nil {
				return fmt.Errorf("%s:%d: %w", f.Path, n, err)
			}
			return fn(f.Split, obj)
		}); err != nil {
			return err
		}
	}
	return nil
}

// annotationMeta are the fields of an annotation that are not its values.
var annotationMeta = map[string]bool{"raw_answer": true, "model": true, "usage": true, "cost_usd": true}

// countAnnotations counts, per field of the annotations in field, how
// often each value occurs (every element of a list of labels).
func countAnnotations(ctx context.Context, dir, field string) (map[string]map[string]int64, error) {
	counts := map[string]map[string]int64{}
	err := eachRow(ctx, []string{dir}, func(_ string, obj map[string]any) error {
		ann, _ := obj[field].(map[string]any)
		for k, v := range ann {
			if annotationMeta[k] {
				continue
			}
			if counts[k] == nil {
				counts[k] = map[string]int64{}
			}
			if list, ok := v.([]any); ok {
				for _, e := range list {
					counts[k][valueString(e)]++
				}
				continue
			}
			counts[k][valueString(v)]++
		}
		return nil
	})
	return counts, err
}

func valueString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// countErrors counts the rows recorded under dir's _errors/.
func countErrors(ctx context.Context, dir string) (int64, error) {
	errDir := storage.Join(dir, "_errors")
	if ok, _ := storage.Exists(ctx, errDir); !ok {
		return 0, nil
	}
	files, err := storage.ListTree(ctx, errDir)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, f := range files {
		if strings.Contains(storage.Base(f), ".tmp") {
			continue
		}
		if err := shardio.Each(ctx, f, func([]byte, int64) error { n++; return nil }); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// countLabels counts the label values of dir's rows per split ("" for an
// unsplit dataset).
func countLabels(ctx context.Context, dir string) (map[string]map[string]int64, error) {
	counts := map[string]map[string]int64{}
	err := eachRow(ctx, []string{dir}, func(split string, obj map[string]any) error {
		if counts[split] == nil {
			counts[split] = map[string]int64{}
		}
		counts[split][valueString(obj[LabelField])]++
		return nil
	})
	return counts, err
}

// predictTest predicts the test rows of splitDir with the model in
// modelDir, loaded with opts.
func predictTest(ctx context.Context, modelDir, splitDir string, opts models.LoadOptions) (*Predictions, error) {
	clf, err := models.Load(ctx, modelDir, opts)
	if err != nil {
		return nil, err
	}
	info := clf.Info()
	p := &Predictions{Labels: info.Labels, Mode: info.Scoring.Mode, Positive: info.Scoring.Positive}
	textExpr, err := rows.Compile(rows.DefaultTextExpression)
	if err != nil {
		return nil, err
	}
	var texts []string
	err = eachRow(ctx, []string{splitDir}, func(split string, obj map[string]any) error {
		if split != "test" {
			return nil
		}
		text, err := rows.TextOf(textExpr, obj)
		if err != nil {
			return err
		}
		texts = append(texts, text)
		p.True = append(p.True, valueString(obj[LabelField]))
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]models.Prediction, len(texts))
	const chunk = 256
	for i := 0; i < len(texts); i += chunk {
		end := min(i+chunk, len(texts))
		if err := clf.Predict(texts[i:end], out[i:end]); err != nil {
			return nil, err
		}
	}
	for _, o := range out {
		p.Probs = append(p.Probs, slices.Clone(o.Probs))
		p.Scores = append(p.Scores, o.Score)
	}
	return p, nil
}
