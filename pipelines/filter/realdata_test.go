package filter

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/pipelines/filter/scoring"
	"github.com/winnowlabs/winnow/transforms/agreement"
)

// TestLanguageIDOnWebText scores real FineWeb-2 documents with the official
// lid.176.ftz (an external model without a manifest: newlines-to-spaces
// normalizer, top-label scoring) and checks the predicted language against
// the documents' own language field.
func TestLanguageIDOnWebText(t *testing.T) {
	model := testutil.SharedData(t, "fasttext/lid.176.ftz")
	web := testutil.SharedData(t, "web-text")
	out := filepath.Join(t.TempDir(), "lid")
	res, err := Score(context.Background(), ScoreOptions{Common: common(out, web), Model: ModelOptions{Path: model}, AllLabels: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Report.Model.Normalizer.Name != "newlines" || res.Report.Model.Scoring.Mode != "top" || res.Report.Field != "metadata.lid_176" {
		t.Errorf("report: model %+v, field %s", res.Report.Model, res.Report.Field)
	}
	want := map[string]string{"deu": "de", "nob": "no", "spa": "es", "srp": "sr"}
	rows := decodeRows(t, allRows(t, res.Dir))
	agree := 0
	for _, r := range rows {
		s := scoresOf(t, r, "metadata.lid_176")
		if s["label"] == want[r["language"].(string)] {
			agree++
		}
		probs := s["probs"].(map[string]any)
		if len(probs) != 176 || math.Abs(probs[s["label"].(string)].(float64)-s["score"].(float64)) > 1e-6 {
			t.Fatalf("scores %v", s)
		}
	}
	if len(rows) != 1600 || float64(agree) < 0.95*float64(len(rows)) {
		t.Errorf("lid.176 agrees with the language of %d of %d documents", agree, len(rows))
	}
}

// TestLegalClassifier trains a graded fastText model on 80% of the shared
// legal annotations (FineWeb pages scored 0-5 for legal value by an LLM)
// and filters the other 20%: the kept pages must have a higher annotated
// score than the dropped ones, and the predicted scores must rank pages
// like the annotations do.
func TestLegalClassifier(t *testing.T) {
	src := testutil.SharedData(t, "fineweb-legal-annotations/parquet")
	files, err := filepath.Glob(filepath.Join(src, "*.parquet"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no parquet files: %v", err)
	}
	seen := map[string]bool{}
	var train, test [][]byte
	for _, f := range files {
		for _, raw := range readShard(t, f) {
			var row struct {
				ID    string `json:"id"`
				Text  string `json:"text"`
				Score int    `json:"score"`
			}
			if err := json.Unmarshal(raw, &row); err != nil {
				t.Fatal(err)
			}
			if seen[row.ID] {
				continue // re-annotations of the same page
			}
			seen[row.ID] = true
			b, _ := json.Marshal(map[string]any{"id": row.ID, "text": row.Text, "score": row.Score})
			if crc32.ChecksumIEEE([]byte(row.ID))%5 == 0 {
				test = append(test, b)
			} else {
				train = append(train, b)
			}
		}
	}
	model, err := trainModelDir(t, "legal", train, ".score", 1)
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "test")
	splitShards(t, in, test, 4)
	threshold := 2.5
	dir := t.TempDir()
	res, err := Filter(context.Background(), FilterOptions{
		ScoreOptions: ScoreOptions{Common: common(filepath.Join(dir, "kept"), in), Model: ModelOptions{Path: model}},
		Selection:    scoring.Selection{Threshold: &threshold}, RejectedDir: filepath.Join(dir, "rejected"),
	})
	if err != nil {
		t.Fatal(err)
	}
	kept := decodeRows(t, allRows(t, res.Dir))
	rejected := decodeRows(t, allRows(t, filepath.Join(dir, "rejected", filepath.Base(res.Dir))))
	if len(kept)+len(rejected) != len(test) || len(kept) == 0 || len(rejected) == 0 {
		t.Fatalf("kept %d, rejected %d of %d", len(kept), len(rejected), len(test))
	}
	mean := func(rows []map[string]any) float64 {
		var s float64
		for _, r := range rows {
			s += r["score"].(float64)
		}
		return s / float64(len(rows))
	}
	if mk, mr := mean(kept), mean(rejected); mk < mr+1 {
		t.Errorf("annotated score: kept pages average %.2f, dropped %.2f", mk, mr)
	}
	// Spearman correlation between predicted and annotated scores, from a
	// plain scoring run over the same pages.
	scored, err := Score(context.Background(), ScoreOptions{Common: common(filepath.Join(dir, "scored"), in), Model: ModelOptions{Path: model}})
	if err != nil {
		t.Fatal(err)
	}
	var pairs []agreement.Pair
	for _, r := range decodeRows(t, allRows(t, scored.Dir)) {
		pairs = append(pairs, agreement.Pair{
			Key: r["id"].(string),
			A:   fmt.Sprint(scoresOf(t, r, "metadata.legal")["score"]),
			B:   fmt.Sprint(r["score"]),
		})
	}
	rep := agreement.Compute(pairs, 0, 0)
	if rep.Spearman == nil || *rep.Spearman < 0.5 {
		t.Errorf("Spearman correlation of predicted and annotated scores %v over %d pages", rep.Spearman, len(pairs))
	} else {
		t.Logf("Spearman %.3f over %d held-out pages; kept %d, dropped %d", *rep.Spearman, len(pairs), len(kept), len(rejected))
	}
	if !strings.HasPrefix(filepath.Base(res.Dir), "legal-") {
		t.Errorf("dir %s", res.Dir)
	}
	if _, err := os.Stat(filepath.Join(res.Dir, "_manifest.json")); err != nil {
		t.Error(err)
	}
}
