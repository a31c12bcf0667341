package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/transforms/storage"
)

// A dataset with two splits under root/ds, a symlink root/dslink to it and a
// sibling root/probe.
func layout(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, p := range []string{"ds/train/part-0.jsonl", "ds/test/part-0.jsonl"} {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, "probe"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("ds", filepath.Join(root, "dslink")); err != nil {
		t.Fatal(err)
	}
	return root
}

// The reproductions of "a step can overwrite its own input": every spelling
// of the input as output, outputs inside the input and inputs inside the
// output are refused; separate locations are accepted.
func TestCheckApartComparesLocations(t *testing.T) {
	ctx := context.Background()
	root := layout(t)
	t.Chdir(filepath.Join(root, "probe"))
	ds := filepath.Join(root, "ds")
	cases := []struct {
		inputs []string
		output string
		want   string // "" when accepted
	}{
		{[]string{"../ds"}, ds, "is the input"},
		{[]string{"../ds"}, "../probe/../ds", "is the input"},
		{[]string{"../ds"}, "../ds/", "is the input"},
		{[]string{"../ds"}, "../dslink", "is the input"},
		{[]string{"../dslink"}, ds, "is the input"},
		{[]string{"../ds/*/*.jsonl"}, "../ds", "is inside the output"},
		{[]string{"../ds/train"}, "../ds", "is inside the output"},
		{[]string{"../ds/train/part-0.jsonl"}, "../dslink", "is inside the output"},
		{[]string{"../ds"}, ds + "/sub", "is inside the input"},
		{[]string{"../ds"}, "../dslink/train/new", "is inside the input"},
		{[]string{"elsewhere", "../ds"}, "../ds/new/deeper", "is inside the input"},
		{[]string{"../ds"}, "out", ""},
		{[]string{"../ds"}, "../ds2", ""},
		{[]string{"../ds/*/*.jsonl"}, "../ds/new", ""},
		{[]string{"memfs://b/ds"}, "../ds", ""},
	}
	for _, c := range cases {
		err := storage.CheckApart(ctx, c.output, c.inputs)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("-i %v -o %s: %v", c.inputs, c.output, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("-i %v -o %s: error %v, want one saying %q", c.inputs, c.output, err, c.want)
		}
	}
}

// Object stores compare normalized bucket/key prefixes.
func TestCheckApartOnObjectStores(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		input, output string
		refused       bool
	}{
		{"gs://b/ds", "gs://b/ds/", true},
		{"gs://b/ds", "gs://b//ds", true},
		{"gs://b/ds", "GS://b/ds/out", true},
		{"s3://b/ds/train", "s3://b/ds", true},
		{"s3://b/ds", "s3://b/ds2", false},
		{"s3://b/ds", "gs://b/ds", false},
		{"memfs://b/ds", "memfs://b/./ds", true},
	}
	for _, c := range cases {
		err := storage.CheckApart(ctx, c.output, []string{c.input})
		if (err != nil) != c.refused {
			t.Errorf("-i %s -o %s: error %v, refused want %v", c.input, c.output, err, c.refused)
		}
	}
	if err := storage.WriteFile(ctx, "memfs://apart/ds/train/a.jsonl", []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	if err := storage.CheckApart(ctx, "memfs://apart/ds", []string{"memfs://apart/ds/*/*.jsonl"}); err == nil {
		t.Error("a memfs glob matching files inside the output was accepted")
	}
}

// A symlinked input directory is followed (it used to give "no shards
// found"), and so are symlinked directories inside it, once each.
func TestListTreeFollowsSymlinks(t *testing.T) {
	ctx := context.Background()
	root := layout(t)
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "part-1.jsonl"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, filepath.Join(root, "ds", "valid")); err != nil {
		t.Fatal(err)
	}
	// A link back up must not loop.
	if err := os.Symlink("..", filepath.Join(root, "ds", "train", "up")); err != nil {
		t.Fatal(err)
	}
	files, err := storage.ListTree(ctx, filepath.Join(root, "dslink"))
	if err != nil {
		t.Fatal(err)
	}
	var rel []string
	for _, f := range files {
		r, err := storage.Rel(filepath.Join(root, "dslink"), f)
		if err != nil {
			t.Fatal(err)
		}
		rel = append(rel, r)
	}
	want := "test/part-0.jsonl train/part-0.jsonl valid/part-1.jsonl"
	if got := strings.Join(rel, " "); got != want {
		t.Errorf("ListTree(dslink) = %s, want %s", got, want)
	}
}
