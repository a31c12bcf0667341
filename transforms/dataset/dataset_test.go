package dataset

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func touch(t *testing.T, root string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(root, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("{}\n"), 0o644)
	}
}

func TestDiscoverLayouts(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	touch(t, root, "train/a.jsonl.zst", "train/sub/b.parquet", "validation/c.jsonl", "test/d.json.gz",
		"_errors/train/a.jsonl", "_manifest.json", "train/.tmp-x.jsonl.zst", "README.md")
	files, err := Discover(ctx, []string{root}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Split+":"+f.Rel)
	}
	want := "test:test/d.json.gz train:train/a.jsonl.zst train:train/sub/b.parquet valid:validation/c.jsonl"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %v\nwant %s", got, want)
	}
	// A split folder given directly keeps its split and its name in Rel.
	files, err = Discover(ctx, []string{filepath.Join(root, "train")}, Options{})
	if err != nil || len(files) != 2 || files[0].Rel != "train/a.jsonl.zst" || files[0].Split != "train" {
		t.Fatalf("split folder: %+v %v", files, err)
	}
	// Globs and single files.
	files, err = Discover(ctx, []string{filepath.Join(root, "*", "*.jsonl*"), filepath.Join(root, "test", "d.json.gz")}, Options{})
	if err != nil || len(files) != 3 || files[2].Input != 1 || files[2].Split != "test" {
		t.Fatalf("globs: %+v %v", files, err)
	}
}

func TestDiscoverRejectsMixedLayoutsAndEmptyInputs(t *testing.T) {
	root := t.TempDir()
	touch(t, root, "train/a.jsonl", "b.jsonl")
	if _, err := Discover(context.Background(), []string{root}, Options{}); err == nil || !strings.Contains(err.Error(), "mixes split folders") {
		t.Fatalf("mixed: %v", err)
	}
	empty := t.TempDir()
	touch(t, empty, "notes.txt")
	if _, err := Discover(context.Background(), []string{empty}, Options{}); err == nil || !strings.Contains(err.Error(), "no shards found") {
		t.Fatalf("empty: %v", err)
	}
	if _, err := Discover(context.Background(), []string{filepath.Join(empty, "missing")}, Options{}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing: %v", err)
	} // Shards whose names differ only by the extension would share outputs;
	// the same name in two inputs is fine (outputs are prefixed by input).
	twins := t.TempDir()
	touch(t, twins, "part-0.jsonl", "part-0.jsonl.gz")
	if _, err := Discover(context.Background(), []string{twins}, Options{}); err == nil || !strings.Contains(err.Error(), "differ only by their extension") {
		t.Fatalf("twins: %v", err)
	}
	other := t.TempDir()
	touch(t, other, "part-0.parquet")
	if _, err := Discover(context.Background(), []string{filepath.Join(twins, "part-0.jsonl"), other}, Options{}); err != nil {
		t.Fatalf("same name in two inputs: %v", err)
	}
}

func TestHuggingFaceFileNameSplits(t *testing.T) {
	root := t.TempDir()
	touch(t, root, "data/train-00000-of-00002.parquet", "data/test-00000-of-00001.parquet", "data/validation-00000-of-00001.parquet")
	files, err := Discover(context.Background(), []string{root}, Options{FileNameSplits: true})
	if err != nil {
		t.Fatal(err)
	}
	splits := map[string]string{}
	for _, f := range files {
		splits[filepath.Base(f.Path)] = f.Split
	}
	if splits["train-00000-of-00002.parquet"] != "train" || splits["test-00000-of-00001.parquet"] != "test" || splits["validation-00000-of-00001.parquet"] != "valid" {
		t.Fatalf("splits %v", splits)
	}
}

func TestLayoutNames(t *testing.T) {
	f := File{Path: "/in/train/a.jsonl.gz", Rel: "train/a.jsonl.gz", Split: "train", Input: 1}
	l := Layout{Dir: "gs://b/out", Ext: ".jsonl.zst"}
	if got := l.Output(f); got != "gs://b/out/train/a.jsonl.zst" {
		t.Errorf("output %s", got)
	}
	if got := l.Errors(f); got != "gs://b/out/_errors/train/a.jsonl" {
		t.Errorf("errors %s", got)
	}
	l.MultiInput = true
	if got := l.Marker(f); got != "gs://b/out/_done/train/1-a.json" {
		t.Errorf("marker %s", got)
	}
}
