package filter

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/pipelines/filter/scoring"
	"github.com/winnowlabs/winnow/pipelines/runner"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// sampleCorpus writes the bundled sample as n shards and returns the dir.
func sampleCorpus(t *testing.T, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "corpus")
	splitShards(t, dir, sampleRows(t), n)
	return dir
}

func loadEdu(t *testing.T) models.Classifier {
	t.Helper()
	c, err := models.Load(context.Background(), eduModel(t), models.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestScoreWritesScoresAndKeepsRows scores the sample: every row comes out
// byte-identical but for the new field, whose scores are the classifier's.
func TestScoreWritesScoresAndKeepsRows(t *testing.T) {
	in := sampleCorpus(t, 3)
	out := filepath.Join(t.TempDir(), "scored")
	res, err := Score(context.Background(), ScoreOptions{Common: common(out, in), Model: ModelOptions{Path: eduModel(t)}})
	if err != nil {
		t.Fatal(err)
	}
	clf := loadEdu(t)
	if want := filepath.Join(out, "edu-"+clf.Info().Version()); res.Dir != want {
		t.Fatalf("output dir %s, want %s", res.Dir, want)
	}
	inRows, outRows := allRows(t, in), allRows(t, res.Dir)
	if len(inRows) != 2000 || len(outRows) != 2000 {
		t.Fatalf("%d rows in, %d out", len(inRows), len(outRows))
	}
	preds := make([]models.Prediction, 1)
	for i, raw := range outRows {
		row := decodeRows(t, [][]byte{raw})[0]
		s := scoresOf(t, row, "metadata.edu")
		if err := clf.Predict([]string{row["text"].(string)}, preds); err != nil {
			t.Fatal(err)
		}
		if s["score"] != preds[0].Score || s["int_score"] != float64(preds[0].IntScore) {
			t.Fatalf("row %d: scores %v, the classifier says %v / %d", i, s, preds[0].Score, preds[0].IntScore)
		}
		// The input row had no metadata: removing the field gives it back.
		j := bytes.LastIndex(raw, []byte(`,"metadata":{"edu":`))
		if j < 0 || string(raw[:j])+"}" != string(inRows[i]) {
			t.Fatalf("row %d changed beyond the scores:\n%.200s", i, raw)
		}
	}
	r := res.Report
	if r.RowsIn != 2000 || r.Kept != 2000 || len(r.Shards) != 3 || r.Model.SHA256 != clf.Info().SHA256 {
		t.Errorf("report %+v", r)
	}
	if res.Manifest.Totals.RowsOut != 2000 || len(res.Manifest.Outputs) != 3 {
		t.Errorf("manifest totals %+v, %d outputs", res.Manifest.Totals, len(res.Manifest.Outputs))
	}
}

// TestAttributesMirrorInputs writes dolma attribute shards at the inputs'
// relative paths, one record per document, in order, with their ids.
func TestScoringLimitsTheHeapAboveTheLoadedModelWhileItRuns(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	before := debug.SetMemoryLimit(-1)
	var limit int64
	limitHeap = func(extra int64) (int64, func()) {
		l, restore := runner.LimitHeapAbove(extra)
		limit = l
		return l, restore
	}
	defer func() { limitHeap = runner.LimitHeapAbove }()

	c := common(filepath.Join(t.TempDir(), "scored"), sampleCorpus(t, 1))
	c.Parallelism = 2
	if _, err := Score(context.Background(), ScoreOptions{Common: c, Model: ModelOptions{Path: eduModel(t)}}); err != nil {
		t.Fatal(err)
	}
	file, err := models.File(context.Background(), eduModel(t))
	if err != nil {
		t.Fatal(err)
	}
	model, err := storage.Size(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	// The limit counts the model, loaded before the run.
	if want := model + 512<<20 + 2*32<<20; limit < want {
		t.Errorf("memory limit during the run %d MiB, want at least the model (%d MiB) + 512 MiB + 32 MiB per worker", limit>>20, model>>20)
	}
	if after := debug.SetMemoryLimit(-1); after != before {
		t.Errorf("memory limit after the run %d, want the one before (%d)", after, before)
	}
}

func TestAttributesMirrorInputs(t *testing.T) {
	in := filepath.Join(t.TempDir(), "docs")
	rows := sampleRows(t)
	writeShard(t, filepath.Join(in, "a", "x.jsonl.zst"), rows[:700])
	writeShard(t, filepath.Join(in, "b", "y.jsonl.zst"), rows[700:1000])
	out := filepath.Join(t.TempDir(), "attributes")
	res, err := Score(context.Background(), ScoreOptions{
		Common: common(out, in), Model: ModelOptions{Path: eduModel(t)}, Attributes: true, NoVersionDir: true, AllLabels: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Dir != out {
		t.Errorf("dir %s, want %s (no version directory)", res.Dir, out)
	}
	labels := loadEdu(t).Info().Labels
	for rel, src := range map[string][][]byte{"a/x.jsonl.zst": rows[:700], "b/y.jsonl.zst": rows[700:1000]} {
		attrs := decodeRows(t, readShard(t, filepath.Join(out, rel)))
		docs := decodeRows(t, src)
		if len(attrs) != len(docs) {
			t.Fatalf("%s: %d records for %d documents", rel, len(attrs), len(docs))
		}
		for i, a := range attrs {
			n := float64(len([]rune(docs[i]["text"].(string))))
			at := a["attributes"].(map[string]any)
			if a["id"] != docs[i]["id"] || len(a) != 2 || len(at) != 2+len(labels) {
				t.Fatalf("%s record %d: %v", rel, i, a)
			}
			for _, name := range append([]string{"score", "int_score"}, labels...) {
				span := at["edu__"+name].([]any)[0].([]any)
				if len(span) != 3 || span[0] != 0.0 || span[1] != n {
					t.Fatalf("%s record %d: %s span %v, want [0, %v, value]", rel, i, name, span, n)
				}
			}
		}
	}
}

// TestSelectionRules runs the threshold, int threshold, jq and Pareto
// rules end to end: kept and rejected rows partition the input, every kept
// row passes the rule and every rejected one fails it.
func TestSelectionRules(t *testing.T) {
	in := sampleCorpus(t, 4)
	clf := loadEdu(t)
	preds := make([]models.Prediction, 1)
	predict := func(row map[string]any) models.Prediction {
		if err := clf.Predict([]string{row["text"].(string)}, preds); err != nil {
			t.Fatal(err)
		}
		return preds[0]
	}
	threshold, intThreshold := 1.2, 2
	cases := []struct {
		name string
		sel  scoring.Selection
		pass func(row map[string]any, p models.Prediction) bool
	}{
		{"threshold", scoring.Selection{Threshold: &threshold}, func(_ map[string]any, p models.Prediction) bool { return p.Score >= 1.2 }},
		{"int-threshold", scoring.Selection{IntThreshold: &intThreshold}, func(_ map[string]any, p models.Prediction) bool { return p.IntScore >= 2 }},
		{"expression", scoring.Selection{Expression: `.metadata.edu.score > 1 and (.text | length) > 2000`},
			func(row map[string]any, p models.Prediction) bool {
				return p.Score > 1 && len([]rune(row["text"].(string))) > 2000
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			res, err := Filter(context.Background(), FilterOptions{
				ScoreOptions: ScoreOptions{Common: common(filepath.Join(dir, "kept"), in), Model: ModelOptions{Path: eduModel(t)}},
				Selection:    tc.sel, RejectedDir: filepath.Join(dir, "rejected"),
			})
			if err != nil {
				t.Fatal(err)
			}
			kept := decodeRows(t, allRows(t, res.Dir))
			rejected := decodeRows(t, allRows(t, filepath.Join(dir, "rejected", filepath.Base(res.Dir))))
			if len(kept)+len(rejected) != 2000 || len(kept) == 0 || len(rejected) == 0 {
				t.Fatalf("kept %d, rejected %d of 2000", len(kept), len(rejected))
			}
			for _, row := range kept {
				if !tc.pass(row, predict(row)) {
					t.Fatalf("kept a row that fails the rule: %v", scoresOf(t, row, "metadata.edu"))
				}
			}
			for _, row := range rejected {
				if _, scored := row["metadata"]; scored || tc.pass(row, predict(row)) {
					t.Fatalf("rejected a row that passes the rule (or was rewritten): %.200v", row)
				}
			}
			r := res.Report
			if r.Kept != int64(len(kept)) || r.Dropped != int64(len(rejected)) || res.Manifest.Totals.Rejected != int64(len(rejected)) {
				t.Errorf("report kept %d dropped %d, manifest rejected %d; counted %d and %d", r.Kept, r.Dropped, res.Manifest.Totals.Rejected, len(kept), len(rejected))
			}
			var sum int64
			for _, s := range r.Shards {
				if s.RowsIn != s.Kept+s.Dropped {
					t.Errorf("shard %s: %d in, %d kept, %d dropped", s.Input, s.RowsIn, s.Kept, s.Dropped)
				}
				sum += s.Kept
			}
			if sum != r.Kept || len(r.Shards) != 4 {
				t.Errorf("%d shard reports kept %d, total %d", len(r.Shards), sum, r.Kept)
			}
		})
	}
}

// TestParetoIsSeeded: the same seed gives byte-identical output, another
// seed a different selection, and the kept share follows the rule's
// expectation, the mean of (2 - s)^-alpha over the rows' scaled scores.
func TestParetoIsSeeded(t *testing.T) {
	in := sampleCorpus(t, 3)
	clf := loadEdu(t)
	run := func(seed int64) (*Result, []byte) {
		res, err := Filter(context.Background(), FilterOptions{
			ScoreOptions: ScoreOptions{Common: common(filepath.Join(t.TempDir(), "out"), in), Model: ModelOptions{Path: eduModel(t)}},
			Selection:    scoring.Selection{Pareto: 3, Seed: seed},
		})
		if err != nil {
			t.Fatal(err)
		}
		return res, bytes.Join(allRows(t, res.Dir), []byte("\n"))
	}
	a, ka := run(11)
	_, kb := run(11)
	c, kc := run(12)
	if !bytes.Equal(ka, kb) {
		t.Error("the same seed selected different rows")
	}
	if bytes.Equal(ka, kc) || a.Report.Kept == 0 || a.Report.Dropped == 0 {
		t.Errorf("seeds 11 and 12 kept the same rows (%d of %d)", a.Report.Kept, a.Report.RowsIn)
	}
	var expect float64
	preds := make([]models.Prediction, 1)
	sc := clf.Info().Scoring
	for _, row := range decodeRows(t, sampleRows(t)) {
		clf.Predict([]string{row["text"].(string)}, preds)
		u := (preds[0].Score - sc.Min) / (sc.Max - sc.Min)
		expect += math.Pow(2-u, -3)
	}
	for _, res := range []*Result{a, c} {
		if sd := math.Sqrt(expect); math.Abs(float64(res.Report.Kept)-expect) > 5*sd {
			t.Errorf("kept %d, expected %.0f ± %.0f", res.Report.Kept, expect, 5*sd)
		}
	}
}

// TestKeepFraction keeps the global top 10% of 100,000 rows spread over
// 40 shards, then 25% of the same rows without scoring them again.
func TestKeepFraction(t *testing.T) {
	docs := decodeRows(t, sampleRows(t))
	var rows [][]byte
	for i := 0; i < 100_000; i++ {
		text := []rune(docs[i%len(docs)]["text"].(string))
		start := (i / len(docs)) * 53 % max(1, len(text)-300)
		end := min(len(text), start+300)
		b, _ := json.Marshal(map[string]any{"id": i, "text": string(text[start:end])})
		rows = append(rows, b)
	}
	in := filepath.Join(t.TempDir(), "corpus")
	splitShards(t, in, rows, 40)
	out, rej := filepath.Join(t.TempDir(), "out"), filepath.Join(t.TempDir(), "rejected")
	run := func(fraction float64) *Result {
		res, err := Filter(context.Background(), FilterOptions{
			ScoreOptions: ScoreOptions{Common: common(out, in), Model: ModelOptions{Path: eduModel(t)}},
			KeepFraction: fraction, RejectedDir: rej,
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, fraction := range []float64{0.1, 0.25} {
		res := run(fraction)
		r := res.Report
		target := fraction * 100_000
		if r.RowsIn != 100_000 || math.Abs(float64(r.Kept)-target) > 0.01*target {
			t.Errorf("fraction %v: kept %d of %d, want %.0f within 1%%", fraction, r.Kept, r.RowsIn, target)
		}
		if r.Cut == nil || r.Cut.Total != 100_000 || r.Cut.Target != int64(target) || len(r.Shards) != 40 {
			t.Fatalf("report cut %+v, %d shards", r.Cut, len(r.Shards))
		}
		kept := decodeRows(t, allRows(t, res.Dir))
		rejected := decodeRows(t, allRows(t, filepath.Join(rej, filepath.Base(res.Dir))))
		if int64(len(kept)) != r.Kept || len(kept)+len(rejected) != 100_000 {
			t.Fatalf("kept %d (report %d) and rejected %d", len(kept), r.Kept, len(rejected))
		}
		minKept, maxRejected := math.Inf(1), math.Inf(-1)
		hist := scoring.NewScoreHistogram(r.Model.Scoring)
		for _, row := range kept {
			score := scoresOf(t, row, "metadata.edu")["score"].(float64)
			minKept = min(minKept, score)
			hist.Add(score)
		}
		for _, row := range rejected {
			score := scoresOf(t, row, "metadata.edu")["score"].(float64)
			maxRejected = max(maxRejected, score)
			hist.Add(score)
		}
		// The pipeline's score distribution (resumed from the scoring
		// markers the second time) is that of every row, once.
		if r.Scores == nil || !slices.Equal(r.Scores.Counts, hist.Counts) || r.Scores.Below != hist.Below || r.Scores.Above != hist.Above ||
			r.Scores.Total() != 100_000 {
			t.Errorf("fraction %v: score histogram %+v, want %+v", fraction, r.Scores, hist)
		}
		// Only rows of the boundary bucket may fall on either side.
		if maxRejected > r.Cut.High || minKept < r.Cut.Low {
			t.Errorf("fraction %v: kept scores from %v, rejected up to %v; the cut is [%v, %v)", fraction, minKept, maxRejected, r.Cut.Low, r.Cut.High)
		}
		if fraction == 0.25 && res.Counters["intermediate_shards_resumed"] < 40 {
			t.Errorf("a new fraction scored the corpus again: counters %v", res.Counters)
		}
	}
}

// A keep-fraction run resumes its selection only when the scored rows it
// read are the same: scoring anew (here with every label's probability)
// redoes the selection even though the cut is unchanged. A later score
// --incremental into the same directory does not take the kept rows for
// scored ones.
func TestKeepFractionReRuns(t *testing.T) {
	in, out := sampleCorpus(t, 4), filepath.Join(t.TempDir(), "out")
	ctx := context.Background()
	filter := func(allLabels bool) *Result {
		t.Helper()
		res, err := Filter(ctx, FilterOptions{
			ScoreOptions: ScoreOptions{Common: common(out, in), Model: ModelOptions{Path: eduModel(t)}, AllLabels: allLabels},
			KeepFraction: 0.5,
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	filter(false)
	res := filter(true)
	kept := decodeRows(t, allRows(t, res.Dir))
	if len(kept) == 0 || int64(len(kept)) != res.Report.Kept {
		t.Fatalf("kept %d rows, report %d", len(kept), res.Report.Kept)
	}
	for _, row := range kept {
		if scoresOf(t, row, "metadata.edu")["probs"] == nil {
			t.Fatal("a kept row has no probabilities: the selection of the earlier scoring was resumed")
		}
	}
	scored, err := Score(ctx, ScoreOptions{Common: common(out, in), Model: ModelOptions{Path: eduModel(t)}, AllLabels: true, Incremental: true})
	if err != nil {
		t.Fatal(err)
	}
	rows := allRows(t, scored.Dir)
	if scored.Report.Command != "score" || int64(len(rows)) != scored.Report.RowsIn || len(rows) != len(sampleRows(t)) {
		t.Errorf("score --incremental after filter: command %s, %d rows written of %d", scored.Report.Command, len(rows), scored.Report.RowsIn)
	}
}

// TestReportsBadRows: with --on-bad-row=skip a malformed row is counted per
// shard and written with its reason beside the outputs.
func TestReportsBadRows(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in")
	rows := sampleRows(t)[:50]
	writeShard(t, filepath.Join(in, "a.jsonl.zst"), append(append([][]byte{}, rows[:10]...), []byte(`{"text": 5}`), []byte(`{"id":1,"text":"x"`)))
	out := filepath.Join(t.TempDir(), "out")
	o := FilterOptions{ScoreOptions: ScoreOptions{Common: common(out, in), Model: ModelOptions{Path: eduModel(t)}}, Selection: scoring.Selection{Threshold: new(float64)}}
	if _, err := Filter(context.Background(), o); err == nil || !strings.Contains(err.Error(), "a.jsonl.zst:11") {
		t.Fatalf("err = %v, want one naming a.jsonl.zst:11", err)
	}
	o.OnBadRow = "skip"
	res, err := Filter(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Report.Shards[0]; s.RowsIn != 12 || s.Bad != 2 || s.Kept != 10 {
		t.Errorf("shard report %+v", s)
	}
	errs, err := os.ReadFile(filepath.Join(res.Dir, "_errors", "a.jsonl"))
	if err != nil || !strings.Contains(string(errs), "gave a number") {
		t.Errorf("errors sidecar: %s %v", errs, err)
	}
}

func TestOptionErrors(t *testing.T) {
	in := sampleCorpus(t, 1)
	base := ScoreOptions{Common: common(filepath.Join(t.TempDir(), "o"), in), Model: ModelOptions{Path: eduModel(t)}}
	th := 0.5
	for name, o := range map[string]FilterOptions{
		"no rule":            {ScoreOptions: base},
		"two rules":          {ScoreOptions: base, Selection: scoring.Selection{Threshold: &th}, KeepFraction: 0.2},
		"fraction too large": {ScoreOptions: base, KeepFraction: 1.5},
		"fraction + incremental": {ScoreOptions: func() ScoreOptions { b := base; b.Incremental = true; return b }(),
			KeepFraction: 0.5},
		"rejected inside output": {ScoreOptions: base, Selection: scoring.Selection{Threshold: &th},
			RejectedDir: filepath.Join(base.Output, "edu-"+loadEdu(t).Info().Version(), "rej")},
		"bad field": {ScoreOptions: func() ScoreOptions { b := base; b.Field = "a b"; return b }(), Selection: scoring.Selection{Threshold: &th}},
		"no model":  {ScoreOptions: func() ScoreOptions { b := base; b.Model.Path = ""; return b }(), Selection: scoring.Selection{Threshold: &th}},
	} {
		if _, err := Filter(context.Background(), o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := os.Stat(base.Output); err == nil {
		t.Error("a refused run wrote output")
	}
}

// readManifest parses dir's manifest.
func readManifest(t *testing.T, dir string) *shardmap.Manifest {
	t.Helper()
	m, err := shardmap.ReadManifest(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
