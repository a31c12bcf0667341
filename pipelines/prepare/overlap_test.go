package prepare

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// snapshot returns every file below dir with its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			out[p] = string(b)
		}
		return nil
	})
	return out
}

// The reproductions of issue 15's data loss: with a copy of an imported
// dataset in ds, a transform whose output is the input under another
// spelling, lies inside it or contains it is refused before anything is
// written, and the input is left byte for byte as it was.
func TestTransformNeverWritesIntoItsInput(t *testing.T) {
	root := t.TempDir()
	testutil.CopyTree(t, bundled(t), filepath.Join(root, "ds", "train"))
	if err := os.Symlink("ds", filepath.Join(root, "dslink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "probe"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	before := snapshot(t, filepath.Join(root, "ds"))
	cases := []struct{ in, out string }{
		{"ds", filepath.Join(root, "ds")},
		{"ds", "../" + filepath.Base(root) + "/ds"},
		{"ds", "dslink"},
		{"ds/*/*.zst", "ds"},
		{"ds/train", "ds"},
		{"ds", filepath.Join(root, "ds", "sub")},
		{"dslink", "probe/../ds/out"},
	}
	for _, c := range cases {
		_, err := Transform(context.Background(), TransformOptions{Common: mapstep.Common{Inputs: []string{c.in}, Output: c.out, Quiet: true}})
		if err == nil || !strings.Contains(err.Error(), "input") {
			t.Errorf("transform -i %s -o %s: %v, want a refusal", c.in, c.out, err)
		}
	}
	after := snapshot(t, filepath.Join(root, "ds"))
	if len(after) != len(before) {
		t.Errorf("the input now holds %d files, had %d", len(after), len(before))
	}
	for p, b := range before {
		if after[p] != b {
			t.Errorf("%s changed", p)
		}
	}
	// A symlinked input directory is followed.
	opts := TransformOptions{Common: mapstep.Common{Inputs: []string{"dslink"}, Output: "out", Quiet: true}}
	opts.LabelTransform = "{score: .scores.score}"
	res, err := Transform(context.Background(), opts)
	if err != nil {
		t.Fatalf("transform -i dslink: %v", err)
	}
	if res.Manifest.Totals.RowsOut != 2000 {
		t.Errorf("transform -i dslink wrote %d rows, want 2000", res.Manifest.Totals.RowsOut)
	}
}

// One writer per output: while another run holds the output's lock a run
// is refused with the owner named, and does not touch the other run's
// temporary files; two runs started together leave one consistent output.
func TestOneWriterPerOutput(t *testing.T) {
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "out")
	other, err := storage.LockDir(ctx, out, storage.LockOptions{Command: "winnow balance"})
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(out, "train", storage.TempPrefix+"part-00000.jsonl.zst.1-1")
	if err := os.MkdirAll(filepath.Dir(tmp), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, []byte("being written"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Transform(ctx, TransformOptions{Common: mapstep.Common{Inputs: []string{bundled(t)}, Output: out, Quiet: true}})
	var locked *storage.LockedError
	if !errors.As(err, &locked) || !strings.Contains(err.Error(), "winnow balance") {
		t.Fatalf("a second writer: %v, want a refusal naming winnow balance", err)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Errorf("the refused run removed the other run's temporary file: %v", err)
	}
	if err := other.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(tmp); err != nil {
		t.Fatal(err)
	}

	// Two transforms with different labels into one directory.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, label := range []string{"{score: .scores.score}", "{score: .scores.score_transform_1}"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts := TransformOptions{Common: mapstep.Common{Inputs: []string{bundled(t)}, Output: out, Quiet: true}}
			opts.LabelTransform = label
			_, errs[i] = Transform(ctx, opts)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.As(err, &locked) {
			t.Fatalf("concurrent transform: %v", err)
		}
	}
	if errs[0] != nil && errs[1] != nil {
		t.Fatal("both runs were refused")
	}
	m, err := shardmap.ReadManifest(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, o := range m.Outputs {
		listed = append(listed, o.Path)
	}
	sort.Strings(listed)
	present := shardsUnder(t, out)
	if strings.Join(listed, " ") != strings.Join(present, " ") {
		t.Errorf("shards present %v, manifest lists %v", present, listed)
	}
	if ok, _ := storage.Exists(ctx, filepath.Join(out, storage.LockName)); ok {
		t.Error("the lock outlived the runs")
	}
}
