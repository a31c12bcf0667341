package prepare

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/pipelines/mapstep"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardio"
)

// readRows reads every row of the shards under dir (recursively, skipping
// _ and . entries) as decoded objects, keyed by file then line order.
func readAll(t *testing.T, paths ...string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, p := range paths {
		r, err := shardio.Open(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		for {
			line, err := r.Next()
			if err != nil {
				break
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("%s:%d: %v", p, r.Line(), err)
			}
			out = append(out, m)
		}
		r.Close()
	}
	return out
}

func bundled(t *testing.T) string {
	return filepath.Join(testutil.RepoRoot(t), "data", "fineweb-edu-llama3-sample")
}

func TestTransformBinarizesFineWebEdu(t *testing.T) {
	out := t.TempDir()
	res, err := Transform(context.Background(), TransformOptions{
		Common: mapstep.Common{Inputs: []string{bundled(t)}, Output: out, Quiet: true},
		TransformArgs: rows.TransformArgs{
			LabelTransform: `{score: (if .scores.score < 3 then "neg" else "pos" end)}`,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Totals.RowsOut != 2000 || res.Manifest.Totals.RowsIn != 2000 {
		t.Fatalf("totals = %+v, want 2000 rows in and out", res.Manifest.Totals)
	}
	t.Logf("outputs %+v", res.Manifest.Outputs)
	got := readAll(t, filepath.Join(out, "train.jsonl.zst"))
	counts := map[string]int{}
	for _, r := range got {
		if len(r) != 2 {
			t.Fatalf("row has fields %v, want text and score only", r)
		}
		counts[r["score"].(string)]++
	}
	// The train split has 65 rows scored 3 and 15 scored 4.
	if counts["pos"] != 80 || counts["neg"] != 920 {
		t.Fatalf("label counts %v, want pos 80 neg 920", counts)
	}
	t.Logf("counters: %v", res.Counters)
}

// The reproductions of issue 15's silent nulls: a transform whose label
// field is missing fails with file and line (the bundled rows carry
// scores.score, not score), or with --on-bad-row=skip writes the rows to
// _errors/; a default (// null) is the user's choice and is written.
func TestTransformMissingFieldIsABadRow(t *testing.T) {
	ctx := context.Background()
	in := filepath.Join(t.TempDir(), "x.jsonl")
	if err := os.WriteFile(in, []byte(`{"text":"hello"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, input := range []string{in, bundled(t)} {
		_, err := Transform(ctx, TransformOptions{Common: mapstep.Common{Inputs: []string{input}, Output: t.TempDir(), Quiet: true}})
		if err == nil || !strings.Contains(err.Error(), ":1: missing field .score") {
			t.Errorf("transform -i %s: %v, want a bad row at line 1 with a missing .score", input, err)
		}
	}
	out := t.TempDir()
	res, err := Transform(ctx, TransformOptions{Common: mapstep.Common{Inputs: []string{bundled(t)}, Output: out, Quiet: true, OnBadRow: "skip"}})
	if err != nil {
		t.Fatal(err)
	}
	if tot := res.Manifest.Totals; tot.RowsOut != 0 || tot.BadRows != 2000 {
		t.Errorf("with skip: totals %+v, want all 2000 rows bad", tot)
	}
	errs := readAll(t, filepath.Join(out, "_errors", "train.jsonl"))
	if len(errs) != 1000 || !strings.HasPrefix(errs[0]["reason"].(string), "missing field .score") {
		t.Errorf("_errors/train.jsonl holds %d rows, the first %v", len(errs), errs[0])
	}

	out = t.TempDir()
	opts := TransformOptions{Common: mapstep.Common{Inputs: []string{in}, Output: out, Quiet: true}}
	opts.LabelTransform = "{score: (.score // null)}"
	if _, err := Transform(ctx, opts); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, filepath.Join(out, "x.jsonl.zst"))
	if len(got) != 1 || got[0]["score"] != nil || got[0]["text"] != "hello" {
		t.Errorf("an explicit null: %v", got)
	}
}
