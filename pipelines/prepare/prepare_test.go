package prepare

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/pipelines/mapstep"

	"github.com/parquet-go/parquet-go"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/transforms/rows"
)

// shardsUnder lists the shards below dir, skipping _ and . entries.
func shardsUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		name := d.Name()
		if p != dir && (strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".")) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && strings.Contains(name, ".jsonl") {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func TestImportLegalParquet(t *testing.T) {
	src := testutil.SharedData(t, "fineweb-legal-annotations/parquet")
	out := t.TempDir()
	res, err := Import(context.Background(), ImportOptions{
		Common:    mapstep.Common{Inputs: []string{src}, Output: out, Quiet: true},
		TestSplit: 0.1, ValidSplit: 500, RowsPerFile: 2000, Seed: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	if m.Totals.RowsIn != 6500 {
		t.Fatalf("rows in %d, want 6500", m.Totals.RowsIn)
	}
	if got := m.Splits["test"].RowsOut; got != 650 {
		t.Errorf("test rows %d, want 650", got)
	}
	if got := m.Splits["valid"].RowsOut; got != 500 {
		t.Errorf("valid rows %d, want 500", got)
	}
	if got := m.Splits["train"].RowsOut; got != 5350 {
		t.Errorf("train rows %d, want 5350", got)
	}
	// The score histogram over every split equals the source's, computed
	// independently from the Parquet files by parquetjson.
	hist := map[string]int{}
	for _, r := range readAll(t, shardsUnder(t, out)...) {
		s, err := rows.ScalarString(r["score"])
		if err != nil {
			t.Fatal(err)
		}
		hist[s]++
	}
	want := legalHistogram(t, src)
	for k, v := range want {
		if hist[k] != v {
			t.Errorf("score %s: %d rows, want %d", k, hist[k], v)
		}
	}
	if len(hist) != len(want) {
		t.Errorf("histogram %v, want %v", hist, want)
	}
	// Shards hold at most 2000 rows and are shuffled: the first train
	// shard's rows do not come in the source order.
	train := shardsUnder(t, filepath.Join(out, "train"))
	if len(train) != 3 {
		t.Fatalf("train shards %v, want 3 of at most 2000 rows", train)
	}
}

// legalHistogram counts scores in the Parquet files with parquet-go's own
// typed reader, independently of the JSON conversion under test.
func legalHistogram(t *testing.T, dir string) map[string]int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.parquet"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no parquet files in %s: %v", dir, err)
	}
	type row struct {
		Score int64 `parquet:"score"`
	}
	hist := map[string]int{}
	for _, f := range files {
		rs, err := parquet.ReadFile[row](f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			hist[strconv.FormatInt(r.Score, 10)]++
		}
	}
	return hist
}

func TestImportIsDeterministicAndSplitsExactly(t *testing.T) {
	src := bundled(t)
	run := func(seed int64) string {
		out := t.TempDir()
		res, err := Import(context.Background(), ImportOptions{
			Common: mapstep.Common{Inputs: []string{src}, Output: out, Quiet: true}, TestSplit: 0.2, RowsPerFile: 300, Seed: seed,
		})
		if err != nil {
			t.Fatal(err)
		}
		// The bundled data's file names give train and valid; test is
		// carved out of train's 1000 rows.
		if tr, te, va := res.Manifest.Splits["train"].RowsOut, res.Manifest.Splits["test"].RowsOut, res.Manifest.Splits["valid"].RowsOut; tr != 800 || te != 200 || va != 1000 {
			t.Fatalf("train %d test %d valid %d, want 800 200 1000", tr, te, va)
		}
		return out
	}
	a, b, c := run(1), run(1), run(2)
	shards := func(dir string) []string {
		var rel []string
		for _, p := range shardsUnder(t, dir) {
			r, _ := filepath.Rel(dir, p)
			rel = append(rel, r)
		}
		return rel
	}
	if got, want := shards(a), []string{"test/part-00000.jsonl.zst", "train/part-00000.jsonl.zst", "train/part-00001.jsonl.zst", "train/part-00002.jsonl.zst", "valid/part-00000.jsonl.zst", "valid/part-00001.jsonl.zst", "valid/part-00002.jsonl.zst", "valid/part-00003.jsonl.zst"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("shards %v, want %v", got, want)
	}
	same, differ := true, false
	for _, rel := range shards(a) {
		ba, _ := os.ReadFile(filepath.Join(a, rel))
		bb, _ := os.ReadFile(filepath.Join(b, rel))
		bc, _ := os.ReadFile(filepath.Join(c, rel))
		same = same && string(ba) == string(bb)
		differ = differ || string(ba) != string(bc)
	}
	if !same {
		t.Error("two imports with the same seed differ")
	}
	if !differ {
		t.Error("imports with different seeds are identical")
	}
	// Rows are shuffled: the first valid shard does not start with the
	// source's first rows.
	first := readAll(t, filepath.Join(a, "valid/part-00000.jsonl.zst"))
	src0 := readAll(t, filepath.Join(src, "valid.jsonl.zst"))
	if first[0]["id"] == src0[0]["id"] && first[1]["id"] == src0[1]["id"] {
		t.Error("valid rows are in source order, not shuffled")
	}
	// Every source row is present exactly once.
	ids := map[any]int{}
	for _, r := range readAll(t, shardsUnder(t, a)...) {
		ids[r["id"].(string)+r["text"].(string)[:20]]++
	}
	if len(ids) != 2000 {
		t.Errorf("%d distinct rows, want 2000", len(ids))
	}
}

func TestImportWithoutTestSplitAsksForOne(t *testing.T) {
	_, err := Import(context.Background(), ImportOptions{
		Common: mapstep.Common{Inputs: []string{bundled(t)}, Output: t.TempDir(), Quiet: true},
	})
	if err == nil || !strings.Contains(err.Error(), "no test split: ask for one") {
		t.Fatalf("err %v, want one asking for a test split", err)
	}
}
