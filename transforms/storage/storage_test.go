package storage_test

import (
	"context"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil/fakecloud"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// Exists takes a path literally on every filesystem, even one whose name
// holds glob characters (object stores answer by listing a glob).
func TestExistsWithGlobCharacters(t *testing.T) {
	ctx := context.Background()
	fakecloud.StartGCS(t, "exists")
	fakecloud.StartS3(t, "exists")
	for _, root := range []string{t.TempDir(), "memfs://exists", "gs://exists", "s3://exists"} {
		name := storage.Scheme(root)
		if name == "" {
			name = "local"
		}
		t.Run(name, func(t *testing.T) {
			for _, name := range []string{"part[1].jsonl", "a*b.jsonl", "plain.jsonl"} {
				p := storage.Join(root, "dir", name)
				if ok, err := storage.Exists(ctx, p); ok || err != nil {
					t.Errorf("%s exists before it is written: %v %v", p, ok, err)
				}
				if err := storage.WriteFile(ctx, p, []byte("{}\n")); err != nil {
					t.Fatal(err)
				}
				if ok, err := storage.Exists(ctx, p); !ok || err != nil {
					t.Errorf("%s: exists %v, %v", p, ok, err)
				}
			}
			// A name matching another's pattern is not taken for it.
			if ok, err := storage.Exists(ctx, storage.Join(root, "dir", "part?1?.jsonl")); ok || err != nil {
				t.Errorf("part?1?.jsonl: exists %v, %v", ok, err)
			}
		})
	}
}

// CopyTree copies a tree between filesystems, keeping relative paths and
// replacing files already there.
func TestCopyTree(t *testing.T) {
	ctx := context.Background()
	fakecloud.StartGCS(t, "copy")
	src := t.TempDir()
	files := map[string]string{"manifest.json": "{}", "model.bin": "weights", "tokenizer/vocab.txt": "a\nb\n"}
	for name, data := range files {
		if err := storage.WriteFile(ctx, storage.Join(src, name), []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	for _, dst := range []string{"memfs://copy/model", "gs://copy/model", storage.Join(t.TempDir(), "model")} {
		if err := storage.WriteFile(ctx, storage.Join(dst, "model.bin"), []byte("old")); err != nil {
			t.Fatal(err)
		}
		n, err := storage.CopyTree(ctx, src, dst)
		if err != nil || n != len(files) {
			t.Fatalf("copy to %s: %d files, %v", dst, n, err)
		}
		for name, want := range files {
			got, err := storage.ReadFile(ctx, storage.Join(dst, name))
			if err != nil || string(got) != want {
				t.Errorf("%s: %q, %v; want %q", storage.Join(dst, name), got, err, want)
			}
		}
		if got, err := storage.ListTree(ctx, dst); err != nil || len(got) != len(files) {
			t.Errorf("%s holds %v (%v), want %d files", dst, got, err, len(files))
		}
	}
}
