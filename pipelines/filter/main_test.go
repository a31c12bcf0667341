package filter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/models/fasttext"
	"github.com/winnowlabs/winnow/models/modeldir"
	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/shardio"
)

// childEnv makes the test binary run one Filter (options as JSON in the
// variable) instead of the tests: the resume test kills such a child.
const childEnv = "WINNOW_FILTER_TEST_CHILD"

// scratchDir holds files shared by the tests of this binary (trained models).
var scratchDir string

func TestMain(m *testing.M) {
	if opts := os.Getenv(childEnv); opts != "" {
		os.Exit(runChild(opts))
	}
	dir, err := os.MkdirTemp("", "winnow-filter-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	scratchDir = dir
	code := ptest.MainRetWithDefault(m, "prism")
	os.RemoveAll(dir)
	os.Exit(code)
}

func runChild(opts string) int {
	var o FilterOptions
	if err := json.Unmarshal([]byte(opts), &o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	o.Quiet = true
	if _, err := Filter(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// sampleRows returns the raw rows of the bundled FineWeb-Edu sample (2,000
// real documents scored 0-4), which every fresh clone has.
func sampleRows(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, split := range []string{"train", "valid"} {
		out = append(out, readShard(t, filepath.Join(testutil.RepoRoot(t), "data/fineweb-edu-llama3-sample", split+".jsonl.zst"))...)
	}
	return out
}

// readShard returns a shard's rows.
func readShard(t testing.TB, path string) [][]byte {
	t.Helper()
	rd, err := shardio.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var out [][]byte
	for {
		line, err := rd.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]byte(nil), line...))
	}
}

// writeShard writes rows as a .jsonl.zst shard.
func writeShard(t testing.TB, path string, rows [][]byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := shardio.Create(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// splitShards writes rows as n shards part-NN.jsonl.zst under dir.
func splitShards(t testing.TB, dir string, rows [][]byte, n int) {
	t.Helper()
	per := (len(rows) + n - 1) / n
	for i := 0; i < n; i++ {
		lo, hi := i*per, min((i+1)*per, len(rows))
		writeShard(t, filepath.Join(dir, fmt.Sprintf("part-%02d.jsonl.zst", i)), rows[lo:hi])
	}
}

var (
	eduOnce sync.Once
	eduDir  string
	eduErr  error
)

// eduModel returns a model directory holding a small fastText model
// trained here on the bundled FineWeb-Edu sample with graded labels 0-4
// and the whitespace normalizer, recorded in its manifest.
func eduModel(t testing.TB) string {
	t.Helper()
	eduOnce.Do(func() { eduDir, eduErr = trainModelDir(t, "edu", sampleRows(t), ".scores.score", 1) })
	if eduErr != nil {
		t.Fatal(eduErr)
	}
	return eduDir
}

// trainModelDir trains a fastText model (dim 16, one thread: deterministic)
// on rows whose label is at labelPath and writes a model directory.
func trainModelDir(t testing.TB, name string, rows [][]byte, labelPath string, seed int) (string, error) {
	ws, err := normalize.New(normalize.Whitespace, normalize.Options{})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, raw := range rows {
		var row map[string]any
		if err := json.Unmarshal(raw, &row); err != nil {
			return "", err
		}
		var label any = row
		for _, k := range strings.Split(strings.TrimPrefix(labelPath, "."), ".") {
			label = label.(map[string]any)[k]
		}
		fmt.Fprintf(&b, "__label__%v %s\n", label, ws.Normalize(row["text"].(string)))
	}
	dir := filepath.Join(scratchDir, fmt.Sprintf("%s-%d", name, seed))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	train := filepath.Join(dir, "train.txt")
	if err := os.WriteFile(train, []byte(b.String()), 0o644); err != nil {
		return "", err
	}
	a := fasttext.DefaultArgs()
	a.Dim, a.Epoch, a.Thread, a.Bucket, a.LR, a.Seed = 16, 5, 1, 100000, 0.5, seed
	m, err := fasttext.Train(context.Background(), train, a, nil)
	if err != nil {
		return "", err
	}
	model := filepath.Join(dir, name)
	if err := os.MkdirAll(model, 0o755); err != nil {
		return "", err
	}
	if err := m.Save(filepath.Join(model, "model.bin")); err != nil {
		return "", err
	}
	return model, modeldir.Write(model, &modeldir.Manifest{
		Kind: models.KindFastText, File: "model.bin", Labels: m.Labels(), Normalizer: normalize.Describe(ws),
	})
}

// common returns quiet step options over inputs into out.
func common(out string, inputs ...string) mapstep.Common {
	return mapstep.Common{Inputs: inputs, Output: out, Quiet: true, Parallelism: 2}
}

// treeFiles lists the files below dir by relative path.
func treeFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// decodeRows decodes rows.
func decodeRows(t testing.TB, raws [][]byte) []map[string]any {
	t.Helper()
	out := make([]map[string]any, len(raws))
	for i, r := range raws {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			t.Fatalf("%s: %v", r, err)
		}
	}
	return out
}

// scoresOf returns the scores object a row carries under field.
func scoresOf(t testing.TB, row map[string]any, field string) map[string]any {
	t.Helper()
	var v any = row
	for _, k := range strings.Split(field, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("row has no %s: %v", field, row)
		}
		v = m[k]
	}
	s, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("row has no %s object", field)
	}
	return s
}

// shardsOf lists the shards below dir (skipping _ and . entries).
func shardsOf(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	for _, rel := range treeFiles(t, dir) {
		if strings.HasPrefix(rel, "_") || strings.HasPrefix(filepath.Base(rel), ".") || strings.Contains(rel, "/_") {
			continue
		}
		out = append(out, filepath.Join(dir, rel))
	}
	return out
}

// allRows reads every shard below dir, in path order.
func allRows(t testing.TB, dir string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, p := range shardsOf(t, dir) {
		out = append(out, readShard(t, p)...)
	}
	return out
}
