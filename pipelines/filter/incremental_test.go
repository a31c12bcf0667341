package filter

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/internal/testutil/fakecloud"
	"github.com/winnowlabs/winnow/pipelines/filter/scoring"
	"github.com/winnowlabs/winnow/transforms/shardio"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// TestIncremental grows a corpus between two --incremental runs: the
// second plans only the new shards and leaves every file of the first
// untouched; a new model version then writes a new directory and leaves
// the old one as it was.
func TestIncremental(t *testing.T) {
	rows := sampleRows(t)
	in := filepath.Join(t.TempDir(), "corpus")
	for i := 0; i < 3; i++ {
		writeShard(t, filepath.Join(in, "day1", "part-"+string(rune('a'+i))+".jsonl.zst"), rows[i*200:(i+1)*200])
	}
	out, rej := filepath.Join(t.TempDir(), "filtered"), filepath.Join(t.TempDir(), "rejected")
	threshold := 1.0
	options := func(model string) FilterOptions {
		o := FilterOptions{
			ScoreOptions: ScoreOptions{Common: common(out, in), Model: ModelOptions{Path: model}, Incremental: true},
			Selection:    scoring.Selection{Threshold: &threshold}, RejectedDir: rej,
		}
		return o
	}
	first, err := Filter(context.Background(), options(eduModel(t)))
	if err != nil {
		t.Fatal(err)
	}
	if first.Counters["shards_done"] != 3 {
		t.Fatalf("first run counters %v", first.Counters)
	}
	before := snapshot(t, out, rej)
	time.Sleep(20 * time.Millisecond) // modification times would show a rewrite

	for i := 3; i < 5; i++ {
		writeShard(t, filepath.Join(in, "day2", "part-"+string(rune('a'+i))+".jsonl.zst"), rows[i*200:(i+1)*200])
	}
	second, err := Filter(context.Background(), options(eduModel(t)))
	if err != nil {
		t.Fatal(err)
	}
	if second.Counters["shards_done"] != 2 || second.Counters["shards_resumed"] != 0 || second.Counters["rows_in"] != 400 {
		t.Errorf("second run counters %v: want only the 2 new shards read", second.Counters)
	}
	for p, info := range before {
		if p == filepath.Join(first.Dir, "_manifest.json") {
			continue
		}
		now, err := os.Stat(p)
		if err != nil || !now.ModTime().Equal(info.ModTime()) || now.Size() != info.Size() {
			t.Errorf("%s was rewritten by the incremental run", p)
		}
	}
	m := readManifest(t, second.Dir)
	if len(m.Outputs) != 5 || len(m.Inputs) != 5 || m.Totals.RowsIn != 1000 || len(second.Report.Shards) != 5 {
		t.Errorf("manifest: %d outputs, %d inputs, %d rows in; report %d shards", len(m.Outputs), len(m.Inputs), m.Totals.RowsIn, len(second.Report.Shards))
	}
	if second.Report.Kept+second.Report.Dropped != 1000 || second.Report.Kept != m.Totals.RowsOut {
		t.Errorf("report kept %d dropped %d; manifest kept %d", second.Report.Kept, second.Report.Dropped, m.Totals.RowsOut)
	}
	// Every row's score counts once in the distribution: the first run's
	// shards' and the new ones'.
	for _, r := range []*Result{first, second} {
		var shards int64
		for _, sh := range r.Report.Shards {
			shards += sh.Scores.Total()
		}
		if r.Report.Scores.Total() != r.Report.RowsIn || shards != r.Report.RowsIn {
			t.Errorf("the score histogram counts %d rows (its shards' %d) of %d", r.Report.Scores.Total(), shards, r.Report.RowsIn)
		}
	}
	if first.Report.RowsIn != 600 {
		t.Errorf("first run read %d rows", first.Report.RowsIn)
	}

	// Nothing new: nothing runs.
	third, err := Filter(context.Background(), options(eduModel(t)))
	if err != nil {
		t.Fatal(err)
	}
	if len(third.Counters) != 0 || third.Report.Kept != second.Report.Kept {
		t.Errorf("an up-to-date run did work: %v", third.Counters)
	}

	// A new model version (retrained with another seed) writes beside.
	retrained, err := trainModelDir(t, "edu", sampleRows(t), ".scores.score", 2)
	if err != nil {
		t.Fatal(err)
	}
	before = snapshot(t, first.Dir)
	v2, err := Filter(context.Background(), options(retrained))
	if err != nil {
		t.Fatal(err)
	}
	if v2.Dir == first.Dir || filepath.Dir(v2.Dir) != out || v2.Counters["shards_done"] != 5 {
		t.Errorf("new version dir %s (old %s), counters %v", v2.Dir, first.Dir, v2.Counters)
	}
	after := snapshot(t, first.Dir)
	if len(after) != len(before) {
		t.Errorf("old version dir changed: %d files, was %d", len(after), len(before))
	}
	for p, info := range before {
		if now, ok := after[p]; !ok || !now.ModTime().Equal(info.ModTime()) {
			t.Errorf("%s changed when a new model version ran", p)
		}
	}
}

func snapshot(t *testing.T, dirs ...string) map[string]os.FileInfo {
	t.Helper()
	out := map[string]os.FileInfo{}
	for _, dir := range dirs {
		for _, rel := range treeFiles(t, dir) {
			p := filepath.Join(dir, rel)
			info, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			out[p] = info
		}
	}
	return out
}

// TestGCSEndToEnd filters a corpus stored on gs:// (an in-process
// fake-gcs-server) with the model on gs:// too, writing kept and rejected
// shards there; a second run resumes every shard.
func TestGCSEndToEnd(t *testing.T) {
	gcs := fakecloud.StartGCS(t, "corpus")
	ctx := context.Background()
	rows := sampleRows(t)
	for i := 0; i < 3; i++ {
		w, err := shardio.Create(ctx, "gs://corpus/in/train/part-"+string(rune('0'+i))+".jsonl.zst")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows[i*300 : (i+1)*300] {
			w.Write(r)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"model.bin", "manifest.json"} {
		b, err := os.ReadFile(filepath.Join(eduModel(t), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := storage.WriteFile(ctx, "gs://corpus/models/edu/"+name, b); err != nil {
			t.Fatal(err)
		}
	}
	threshold := 1.0
	o := FilterOptions{
		ScoreOptions: ScoreOptions{Common: common("gs://corpus/out", "gs://corpus/in"), Model: ModelOptions{Path: "gs://corpus/models/edu"}},
		Selection:    scoring.Selection{Threshold: &threshold}, RejectedDir: "gs://corpus/rejected",
	}
	res, err := Filter(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	version := "edu-" + loadEdu(t).Info().Version()
	if res.Dir != "gs://corpus/out/"+version {
		t.Errorf("dir %s", res.Dir)
	}
	var kept, rejected int
	for i := 0; i < 3; i++ {
		name := "/train/part-" + string(rune('0'+i)) + ".jsonl.zst"
		for _, r := range decodeRows(t, readShard(t, res.Dir+name)) {
			if scoresOf(t, r, "metadata.edu")["score"].(float64) < threshold {
				t.Errorf("kept a row scored below the threshold")
			}
			kept++
		}
		rejected += len(readShard(t, "gs://corpus/rejected/"+version+name))
	}
	if kept+rejected != 900 || int64(kept) != res.Report.Kept || kept == 0 || rejected == 0 {
		t.Errorf("kept %d, rejected %d of 900; report %d", kept, rejected, res.Report.Kept)
	}
	m, err := storage.ReadFile(ctx, res.Dir+"/_manifest.json")
	if err != nil || len(m) == 0 {
		t.Fatalf("manifest: %v", err)
	}
	again, err := Filter(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if again.Counters["shards_resumed"] != 3 || again.Report.Kept != res.Report.Kept {
		t.Errorf("second run counters %v, kept %d", again.Counters, again.Report.Kept)
	}
	if len(gcs.Requests()) == 0 {
		t.Error("the fake GCS served nothing")
	}
}

// Outputs of several inputs are named by the input's position: an
// incremental run with the inputs in another order redoes the shards whose
// output names changed instead of keeping (and overwriting) the old ones.
func TestIncrementalWithReorderedInputs(t *testing.T) {
	rows := sampleRows(t)
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	writeShard(t, filepath.Join(a, "x.jsonl.zst"), rows[:200])
	writeShard(t, filepath.Join(b, "y.jsonl.zst"), rows[200:400])
	out := filepath.Join(t.TempDir(), "scored")
	score := func(inputs ...string) *Result {
		t.Helper()
		res, err := Score(context.Background(), ScoreOptions{Common: common(out, inputs...), Model: ModelOptions{Path: eduModel(t)}, Incremental: true})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	score(a, b)
	writeShard(t, filepath.Join(a, "y.jsonl.zst"), rows[400:600]) // a new shard of a named like b's
	res := score(b, a)
	got := map[string]bool{}
	for _, row := range decodeRows(t, allRows(t, res.Dir)) {
		id := row["id"].(string)
		if got[id] {
			t.Errorf("row %s is twice in the output", id)
		}
		got[id] = true
	}
	if len(got) != 600 || len(res.Report.Shards) != 3 {
		t.Errorf("%d distinct rows in %d shards, want 600 in 3", len(got), len(res.Report.Shards))
	}
}
