package prepare

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/internal/testutil/fakehub"
	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/transforms/hfhub"
)

// sameShards fails unless dirs a and b hold the same shards with the same
// bytes.
func sameShards(t *testing.T, a, b string) {
	t.Helper()
	as, bs := shardsUnder(t, a), shardsUnder(t, b)
	if len(as) == 0 || len(as) != len(bs) {
		t.Fatalf("%d shards in %s, %d in %s", len(as), a, len(bs), b)
	}
	for i := range as {
		ra, _ := filepath.Rel(a, as[i])
		rb, _ := filepath.Rel(b, bs[i])
		x, _ := os.ReadFile(as[i])
		y, _ := os.ReadFile(bs[i])
		if ra != rb || !bytes.Equal(x, y) {
			t.Errorf("shard %s differs from %s", as[i], bs[i])
		}
	}
}

// noPartialFiles fails if the cache holds an unfinished download.
func noPartialFiles(t *testing.T, cache string) {
	t.Helper()
	filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (strings.HasSuffix(p, ".incomplete") || strings.HasSuffix(p, ".tmp")) {
			t.Errorf("partial file left in the cache: %s", p)
		}
		return nil
	})
}

func TestImportHubEqualsLocalImport(t *testing.T) {
	sample := filepath.Join(testutil.RepoRoot(t), "data", "fineweb-edu-llama3-sample")
	srv := fakehub.New(t)
	commit := srv.AddDir(t, "datasets", "HuggingFaceFW/fineweb-edu-llama3-annotations", sample, "")
	// The connection drops in the middle of the train file: the download
	// resumes.
	srv.Drop("train.jsonl.zst", 1, 300_000)
	cache := t.TempDir()
	hub := &hfhub.Client{Endpoint: srv.URL, CacheDir: cache}
	opts := func(out string, c *hfhub.Client) HubImportOptions {
		return HubImportOptions{
			ImportOptions: ImportOptions{Common: mapstep.Common{Output: out, Quiet: true}, TestSplit: 0.2, RowsPerFile: 500, Seed: 42},
			Dataset:       "HuggingFaceFW/fineweb-edu-llama3-annotations", Hub: c,
		}
	}
	ctx := context.Background()
	local := filepath.Join(t.TempDir(), "local")
	if _, err := Import(ctx, ImportOptions{Common: mapstep.Common{Inputs: []string{sample}, Output: local, Quiet: true}, TestSplit: 0.2, RowsPerFile: 500, Seed: 42}); err != nil {
		t.Fatal(err)
	}
	fromHub := filepath.Join(t.TempDir(), "hub")
	res, src, err := ImportHub(ctx, opts(fromHub, hub))
	if err != nil {
		t.Fatal(err)
	}
	sameShards(t, local, fromHub)
	if res.Manifest.Totals.RowsIn != 2000 || src.Snapshot.Commit != commit || src.Snapshot.Fetched != 2 {
		t.Errorf("rows %d, commit %s, fetched %d", res.Manifest.Totals.RowsIn, src.Snapshot.Commit, src.Snapshot.Fetched)
	}
	var recorded struct {
		Dataset, Commit string
	}
	if err := json.Unmarshal(res.Manifest.Options, &recorded); err != nil || recorded.Commit != commit || recorded.Dataset == "" {
		t.Errorf("manifest options %s (%v)", res.Manifest.Options, err)
	}
	if st := srv.Stats(); st.Gets["train.jsonl.zst"] != 2 {
		t.Errorf("train file GETs %d, want 2 (one dropped, one resumed)", st.Gets["train.jsonl.zst"])
	}
	noPartialFiles(t, cache)

	// A second run downloads nothing.
	srv.ResetStats()
	again := filepath.Join(t.TempDir(), "again")
	if _, src, err = ImportHub(ctx, opts(again, hub)); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); src.Snapshot.Fetched != 0 || st.Head+st.Get+st.CDN != 0 {
		t.Errorf("second run fetched %d files; requests %+v", src.Snapshot.Fetched, st)
	}
	sameShards(t, local, again)

	// Offline, the cache is enough.
	srv.ResetStats()
	offline := filepath.Join(t.TempDir(), "offline")
	if _, _, err = ImportHub(ctx, opts(offline, &hfhub.Client{CacheDir: cache, Offline: true})); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Info+st.Head+st.Get+st.CDN != 0 {
		t.Errorf("offline run made requests: %+v", st)
	}
	sameShards(t, local, offline)
}

func TestImportHubLegalParquet(t *testing.T) {
	dir := testutil.SharedData(t, "fineweb-legal-annotations/parquet")
	srv := fakehub.New(t)
	srv.AddDir(t, "datasets", "NoeFlandre/fineweb-legal", dir, "data/")
	ctx := context.Background()
	local := filepath.Join(t.TempDir(), "local")
	io := ImportOptions{Common: mapstep.Common{Inputs: []string{dir}, Output: local, Quiet: true}, TestSplit: 0.1, ValidSplit: 500, RowsPerFile: 2000, Seed: 7}
	if _, err := Import(ctx, io); err != nil {
		t.Fatal(err)
	}
	fromHub := filepath.Join(t.TempDir(), "hub")
	io.Common = mapstep.Common{Output: fromHub, Quiet: true}
	res, src, err := ImportHub(ctx, HubImportOptions{ImportOptions: io, Dataset: "NoeFlandre/fineweb-legal",
		Hub: &hfhub.Client{Endpoint: srv.URL, CacheDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Totals.RowsIn != 6500 || len(src.Files) != 65 || !src.Selection.Unsplit {
		t.Errorf("rows %d, files %d, unsplit %v", res.Manifest.Totals.RowsIn, len(src.Files), src.Selection.Unsplit)
	}
	sameShards(t, local, fromHub)
}

func TestImportHubConfigAndSplits(t *testing.T) {
	root := testutil.RepoRoot(t)
	legal, err := os.ReadFile(filepath.Join(root, "testdata", "parquet", "fineweb-legal-batch_000016.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	sample := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(root, "data", "fineweb-edu-llama3-sample", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	srv := fakehub.New(t)
	srv.Add("datasets", "acme/mixed", map[string][]byte{
		"README.md": []byte("---\nconfigs:\n- config_name: edu\n  default: true\n  data_files:\n  - split: train\n    path: edu/train-*\n  - split: validation\n    path: edu/valid-*\n" +
			"- config_name: legal\n  data_dir: legal\n---\n"),
		"edu/train-0.jsonl.zst":           sample("train.jsonl.zst"),
		"edu/valid-0.jsonl.zst":           sample("valid.jsonl.zst"),
		"legal/train_sft/batch.parquet":   legal,
		"legal/data/notes.csv":            []byte("a,b\n"),
		"legal/test_sft-00000.parquet.gz": []byte("not read"),
	})
	hub := &hfhub.Client{Endpoint: srv.URL, CacheDir: t.TempDir()}
	ctx := context.Background()
	run := func(o HubImportOptions) (*HubSource, error) {
		o.Common = mapstep.Common{Output: filepath.Join(t.TempDir(), "out"), Quiet: true}
		o.Dataset, o.Hub, o.RowsPerFile = "acme/mixed", hub, 1000
		res, src, err := ImportHub(ctx, o)
		if err == nil && res.Manifest.Totals.RowsIn == 0 {
			t.Errorf("%+v: no rows", o)
		}
		return src, err
	}
	// The default configuration; only the validation split, which
	// becomes the whole of valid (no train to carve test from).
	if _, err := run(HubImportOptions{Splits: []string{"validation"}}); err == nil || !strings.Contains(err.Error(), "no test split") {
		t.Errorf("validation alone: %v", err)
	}
	src, err := run(HubImportOptions{ImportOptions: ImportOptions{TestSplit: 0.1}})
	if err != nil {
		t.Fatal(err)
	}
	if src.Selection.Config != "edu" || len(src.Files) != 2 || src.Files[1].Split != "valid" {
		t.Errorf("default configuration: %+v", src.Files)
	}
	// A split named otherwise is imported as train when it is the only
	// one.
	src, err = run(HubImportOptions{Config: "legal", ImportOptions: ImportOptions{TestSplit: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if len(src.Files) != 1 || src.Files[0].Split != "train" || src.Files[0].Rel != "train_sft/batch.parquet" {
		t.Errorf("legal configuration: %+v", src.Files)
	}
	_, err = run(HubImportOptions{Config: "nope", ImportOptions: ImportOptions{TestSplit: 10}})
	if err == nil || !strings.Contains(err.Error(), "dataset acme/mixed has no configuration nope (it has edu, legal)") {
		t.Errorf("unknown configuration: %v", err)
	}
}

func TestImportHubErrors(t *testing.T) {
	srv := fakehub.New(t)
	srv.Add("datasets", "acme/gated", map[string][]byte{"train.jsonl": []byte(`{"text":"a","score":1}` + "\n")})
	srv.Gate("datasets", "acme/gated")
	srv.Add("datasets", "acme/csv", map[string][]byte{"README.md": []byte("# no card\n"), "train.csv": []byte("text,score\na,1\n")})
	srv.Add("datasets", "acme/empty", map[string][]byte{"README.md": []byte("# nothing\n")})
	srv.Add("datasets", "acme/sharded", map[string][]byte{
		"data/train_a-00000-of-00001.jsonl": []byte(`{"text":"a","score":1}` + "\n"),
		"data/train_b-00000-of-00001.jsonl": []byte(`{"text":"b","score":0}` + "\n"),
	})
	ctx := context.Background()
	for _, tc := range []struct {
		dataset, revision string
		is                error
		want              string
	}{
		{dataset: "acme/gated", is: hfhub.ErrGated, want: "dataset acme/gated is gated: accept its conditions on " + srv.URL + "/datasets/acme/gated, then set HF_TOKEN"},
		{dataset: "acme/nope", is: hfhub.ErrRepoNotFound, want: "dataset acme/nope not found on " + srv.URL},
		{dataset: "acme/csv", revision: "v2", is: hfhub.ErrRevisionNotFound, want: `dataset acme/csv has no revision "v2"`},
		{dataset: "acme/csv", want: "dataset acme/csv: its data files are csv (e.g. train.csv); winnow reads Parquet and JSON Lines"},
		{dataset: "acme/empty", want: "dataset acme/empty has no data files (it holds README.md)"},
		{dataset: "acme/sharded", want: "dataset acme/sharded has splits train_a, train_b, and winnow's are train, valid and test"},
	} {
		out := filepath.Join(t.TempDir(), "out")
		_, _, err := ImportHub(ctx, HubImportOptions{
			ImportOptions: ImportOptions{Common: mapstep.Common{Output: out, Quiet: true}, TestSplit: 0.5},
			Dataset:       tc.dataset, Revision: tc.revision, Hub: &hfhub.Client{Endpoint: srv.URL, CacheDir: t.TempDir()},
		})
		if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("%s: error %v, want %q", tc.dataset, err, tc.want)
		}
		if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: the output directory exists after a failure", tc.dataset)
		}
	}
}
