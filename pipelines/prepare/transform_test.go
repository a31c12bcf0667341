package prepare

import (
	"context"
	"encoding/json"
	"path/filepath"
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
