package prepare

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil/fakecloud"
	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardio"
	"github.com/winnowlabs/winnow/transforms/storage"
)

const binarize = `{score: (if .scores.score < 3 then "neg" else "pos" end)}`

// binarized writes the bundled data with binary labels, resharded into
// shards per split so steps see many shards.
func binarized(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	resharded := t.TempDir()
	if _, err := Import(ctx, ImportOptions{
		Common:    mapstep.Common{Inputs: []string{bundled(t)}, Output: resharded, Quiet: true},
		TestSplit: 0.3, RowsPerFile: 150, Seed: 5,
	}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := Transform(ctx, TransformOptions{
		Common:        mapstep.Common{Inputs: []string{resharded}, Output: out, Quiet: true},
		TransformArgs: rows.TransformArgs{TextTransform: "{id, text}", LabelTransform: binarize},
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func labelCounts(t *testing.T, dir string) map[string]map[string]int {
	t.Helper()
	out := map[string]map[string]int{}
	for _, split := range []string{"train", "valid", "test"} {
		if _, err := os.Stat(filepath.Join(dir, split)); err != nil {
			continue
		}
		out[split] = map[string]int{}
		for _, r := range readAll(t, shardsUnder(t, filepath.Join(dir, split))...) {
			out[split][r["score"].(string)]++
		}
	}
	return out
}

func TestBalanceIsExactPerSplit(t *testing.T) {
	in := binarized(t)
	before := labelCounts(t, in)
	out := t.TempDir()
	res, rep, err := Balance(context.Background(), BalanceOptions{
		Common: mapstep.Common{Inputs: []string{in}, Output: out, Quiet: true}, Seed: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	after := labelCounts(t, out)
	for split, labels := range before {
		min := math.MaxInt
		for _, n := range labels {
			min = int(math.Min(float64(min), float64(n)))
		}
		for l := range labels {
			if after[split][l] != min {
				t.Errorf("%s/%s: %d rows after balance, want exactly %d (before: %v)", split, l, after[split][l], min, labels)
			}
		}
		if rep.Target[split] != int64(min) {
			t.Errorf("%s: report target %d, want %d", split, rep.Target[split], min)
		}
	}
	// All fields are kept.
	for _, r := range readAll(t, shardsUnder(t, out)[0]) {
		if r["id"] == nil || r["text"] == nil {
			t.Fatalf("balanced row lost fields: %v", r)
		}
	}
	if res.Counters["rows_out"] == 0 {
		t.Errorf("counters %v", res.Counters)
	}
	// Several inputs pool per split.
	out2 := t.TempDir()
	if _, _, err := Balance(context.Background(), BalanceOptions{
		Common: mapstep.Common{Inputs: []string{filepath.Join(in, "train"), filepath.Join(in, "valid")}, Output: out2, Quiet: true}, Seed: 3,
	}); err != nil {
		t.Fatal(err)
	}
	pooled := labelCounts(t, out2)
	if pooled["train"]["pos"] != pooled["train"]["neg"] || pooled["valid"]["pos"] != pooled["valid"]["neg"] {
		t.Errorf("two inputs balanced to %v", pooled)
	}
}

func TestSampleTargetSizeWithinTwoPercent(t *testing.T) {
	src := bundled(t)
	for _, target := range []int64{500_000, 2_000_000, 5_000_000} {
		out := t.TempDir()
		res, rep, err := Sample(context.Background(), SampleOptions{
			Common: mapstep.Common{Inputs: []string{src}, Output: out, Quiet: true}, TargetBytes: target, Seed: 11,
		})
		if err != nil {
			t.Fatal(err)
		}
		// Measure what was written independently of the manifest.
		var written int64
		for _, r := range readRowsRaw(t, shardsUnder(t, out)...) {
			written += int64(len(r)) + 1
		}
		if written != res.Manifest.Totals.BytesOut || written != rep.WrittenBytes {
			t.Errorf("written %d, manifest %d, report %d", written, res.Manifest.Totals.BytesOut, rep.WrittenBytes)
		}
		if off := math.Abs(float64(written-target)) / float64(target); off > 0.02 {
			t.Errorf("target %d: wrote %d (%.2f%% off)", target, written, 100*off)
		}
	}
}

func TestSampleRateIsSeededAndSpreadOverTheShard(t *testing.T) {
	src := bundled(t)
	run := func(seed int64) []string {
		out := t.TempDir()
		if _, _, err := Sample(context.Background(), SampleOptions{
			Common: mapstep.Common{Inputs: []string{src}, Output: out, Quiet: true}, Rate: 0.2, Seed: seed,
		}); err != nil {
			t.Fatal(err)
		}
		return readRowsRaw(t, filepath.Join(out, "train.jsonl.zst"))
	}
	a, b, c := run(1), run(1), run(2)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("same seed, different samples")
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Error("different seeds, same sample")
	}
	// Rows come from the whole file: some from its second half.
	all := readRowsRaw(t, filepath.Join(src, "train.jsonl.zst"))
	pos := map[string]int{}
	for i, r := range all {
		pos[r] = i
	}
	late := 0
	for _, r := range a {
		if pos[r] >= len(all)/2 {
			late++
		}
	}
	if late < len(a)/4 {
		t.Errorf("only %d of %d sampled rows come from the second half of the file", late, len(a))
	}
}

func readRowsRaw(t *testing.T, paths ...string) []string {
	t.Helper()
	var out []string
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
			out = append(out, string(line))
		}
		r.Close()
	}
	return out
}

func TestReshardNearEqual(t *testing.T) {
	src := bundled(t)
	out := t.TempDir()
	res, err := Reshard(context.Background(), ReshardOptions{
		Common: mapstep.Common{Inputs: []string{src}, Output: out, Quiet: true}, NumFiles: 7, Seed: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	shards := shardsUnder(t, out)
	if len(shards) != 7 {
		t.Fatalf("%d shards, want 7: %v", len(shards), shards)
	}
	total := 0
	for _, s := range shards {
		n := len(readRowsRaw(t, s))
		total += n
		if n < 2000/7 || n > 2000/7+1 {
			t.Errorf("%s holds %d rows, want %d or %d", s, n, 2000/7, 2000/7+1)
		}
	}
	if total != 2000 || res.Manifest.Totals.RowsOut != 2000 {
		t.Errorf("total %d, manifest %d", total, res.Manifest.Totals.RowsOut)
	}
	// Resharding to fewer files removes the earlier run's extra shards.
	if _, err := Reshard(context.Background(), ReshardOptions{
		Common: mapstep.Common{Inputs: []string{src}, Output: out, Quiet: true}, NumFiles: 3, Seed: 2,
	}); err != nil {
		t.Fatal(err)
	}
	if n := len(shardsUnder(t, out)); n != 3 {
		t.Errorf("%d shards after resharding to 3", n)
	}
}

func TestReshardResplitsLikeBonepick(t *testing.T) {
	out := t.TempDir()
	res, err := Reshard(context.Background(), ReshardOptions{
		Common: mapstep.Common{Inputs: []string{bundled(t)}, Output: out, Quiet: true}, NumFiles: 10, TestSplit: 0.1, ValidSplit: 100, Seed: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int64{"train": {8, 1700}, "valid": {1, 100}, "test": {1, 200}}
	for split, w := range want {
		c := res.Manifest.Splits[split]
		if c == nil || c.Files != w[0] || c.RowsOut != w[1] {
			t.Errorf("%s: %+v, want %d files %d rows", split, c, w[0], w[1])
		}
	}
}

func TestStats(t *testing.T) {
	sum, _, err := Stats(context.Background(), StatsOptions{
		Inputs: []string{bundled(t)}, LabelExpression: ".scores.score", Quiet: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	all := sum.Splits[""]
	if all.Rows != 2000 || all.Labels["1"] != 1162 || all.Labels["4"] != 30 {
		t.Fatalf("stats %+v", all)
	}
	qs, _ := all.TextLengths.Quantiles([]float64{0.5})
	if qs[0] < 2000 || qs[0] > 2700 {
		t.Errorf("median text length %.0f", qs[0])
	}
}

func TestObjectStoreEndToEnd(t *testing.T) {
	fakecloud.StartGCS(t, "corpus")
	fakecloud.StartS3(t, "out")
	ctx := context.Background()
	// Copy the bundled data to gs://, transform it to s3://.
	for _, name := range []string{"train.jsonl.zst", "valid.jsonl.zst"} {
		b, err := storage.ReadFile(ctx, filepath.Join(bundled(t), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := storage.WriteFile(ctx, "gs://corpus/edu/"+name, b); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Transform(ctx, TransformOptions{
		Common:        mapstep.Common{Inputs: []string{"gs://corpus/edu"}, Output: "s3://out/binary", Quiet: true},
		TransformArgs: rows.TransformArgs{LabelTransform: binarize},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Totals.RowsOut != 2000 {
		t.Fatalf("totals %+v", res.Manifest.Totals)
	}
	got := readAll(t, "s3://out/binary/train.jsonl.zst")
	if len(got) != 1000 || got[0]["score"] == nil {
		t.Fatalf("%d rows from s3", len(got))
	}
	// And back from s3:// to gs:// through a reshuffle.
	if _, err := Reshard(ctx, ReshardOptions{
		Common: mapstep.Common{Inputs: []string{"s3://out/binary"}, Output: "gs://corpus/resharded", Quiet: true}, NumFiles: 4,
	}); err != nil {
		t.Fatal(err)
	}
	files, err := storage.List(ctx, "gs://corpus/resharded/shard_*.jsonl.zst")
	if err != nil || len(files) != 4 {
		t.Fatalf("resharded to %v %v", files, err)
	}
}
