package annotate

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/transforms/agreement"
)

// writeJSONL writes rows as a JSON Lines file.
func writeJSONL(t testing.TB, path string, rows []map[string]any) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range rows {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The Beam join gives the report of transforms/agreement on the same pairs:
// two real annotation runs of the same pages (fineweb-legal, scored twice),
// each with pages the other lacks, labels under different expressions and in
// several shards.
func TestAgreementMatchesTheRecordLevelReport(t *testing.T) {
	f, err := os.Open(testutil.Testdata(t, "annotate/legal-reannotations.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var itemsA, itemsB []agreement.Item
	var rowsA, rowsB []map[string]any
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for i := 0; sc.Scan(); i++ {
		fields := strings.Split(sc.Text(), "\t")
		id, first, second := fields[0], fields[1], fields[2]
		if i%10 != 3 {
			itemsA = append(itemsA, agreement.Item{Key: id, Label: first})
			rowsA = append(rowsA, map[string]any{"id": id, "legal": map[string]any{"score": json.Number(first)}})
		}
		if i%7 != 5 {
			itemsB = append(itemsB, agreement.Item{Key: id, Label: second})
			rowsB = append(rowsB, map[string]any{"id": id, "score": json.Number(second), "text": "page " + id})
		}
	}
	dir := t.TempDir()
	for i := 0; i < 3; i++ {
		part := rowsA[i*len(rowsA)/3 : (i+1)*len(rowsA)/3]
		writeJSONL(t, filepath.Join(dir, "a", fmt.Sprintf("shard_%d.jsonl", i)), part)
	}
	writeJSONL(t, filepath.Join(dir, "b", "all.jsonl"), rowsB)

	rep, err := Agreement(context.Background(), AgreementOptions{
		A: []string{filepath.Join(dir, "a")}, B: []string{filepath.Join(dir, "b")},
		KeyExpression: ".id", LabelExpressionA: ".legal.score", LabelExpression: ".score", Quiet: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	pairs, onlyA, onlyB, err := agreement.Join(itemsA, itemsB)
	if err != nil {
		t.Fatal(err)
	}
	want := agreement.Compute(pairs, onlyA, onlyB)
	if rep.Pairs != want.Pairs || rep.OnlyA != want.OnlyA || rep.OnlyB != want.OnlyB ||
		!reflect.DeepEqual(rep.Labels, want.Labels) || !reflect.DeepEqual(rep.Confusion, want.Confusion) {
		t.Errorf("report %+v\nwant %+v", rep.Report, want)
	}
	for name, v := range map[string][2]*float64{
		"kappa": {rep.Kappa, want.Kappa}, "quadratic kappa": {rep.QuadraticKappa, want.QuadraticKappa},
		"mae": {rep.MAE, want.MAE}, "spearman": {rep.Spearman, want.Spearman},
		"agreement": {&rep.Agreement, &want.Agreement}, "coverage": {&rep.CoverageA, &want.CoverageA},
	} {
		if v[0] == nil || v[1] == nil || math.Abs(*v[0]-*v[1]) > 1e-12 {
			t.Errorf("%s: %v, want %v", name, v[0], v[1])
		}
	}
	if rep.RowsA != int64(len(rowsA)) || rep.RowsB != int64(len(rowsB)) {
		t.Errorf("rows read: %d, %d; want %d, %d", rep.RowsA, rep.RowsB, len(rowsA), len(rowsB))
	}
	if rep.Pairs < 1500 || *rep.Kappa > 0.99 || *rep.Kappa < 0.8 {
		t.Errorf("real re-annotations should agree well but not perfectly: %d pairs, kappa %v", rep.Pairs, *rep.Kappa)
	}
}

// A key twice in one set, or a row without a label, is an error naming it;
// with skip the row without a label is counted and left out.
func TestAgreementBadInput(t *testing.T) {
	dir := t.TempDir()
	writeJSONL(t, filepath.Join(dir, "a.jsonl"), []map[string]any{{"id": "x", "score": 1}, {"id": "y", "score": 2}, {"id": "x", "score": 3}})
	writeJSONL(t, filepath.Join(dir, "b.jsonl"), []map[string]any{{"id": "x", "score": 1}, {"id": "y"}})
	ctx := context.Background()
	_, err := Agreement(ctx, AgreementOptions{A: []string{filepath.Join(dir, "a.jsonl")}, B: []string{filepath.Join(dir, "a.jsonl")}, Quiet: true})
	if err == nil || !strings.Contains(err.Error(), `key "x" appears twice`) {
		t.Errorf("duplicate key: %v", err)
	}
	_, err = Agreement(ctx, AgreementOptions{A: []string{filepath.Join(dir, "b.jsonl")}, B: []string{filepath.Join(dir, "b.jsonl")}, Quiet: true})
	if err == nil || !strings.Contains(err.Error(), "b.jsonl:2") {
		t.Errorf("missing label: %v", err)
	}
	rep, err := Agreement(ctx, AgreementOptions{A: []string{filepath.Join(dir, "b.jsonl")}, B: []string{filepath.Join(dir, "b.jsonl")}, OnBadRow: "skip", Quiet: true})
	if err != nil || rep.Pairs != 1 || rep.BadRowsA != 1 || rep.BadRowsB != 1 || rep.Agreement != 1 {
		t.Errorf("skip: %+v, %v", rep, err)
	}
}
