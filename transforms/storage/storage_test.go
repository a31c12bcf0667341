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
