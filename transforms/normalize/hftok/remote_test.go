package hftok

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// A tokenizer on an object store (where a distributed run's workers read
// it) loads as the local file does, with its tokenizer_config.json.
func TestLoadFromObjectStore(t *testing.T) {
	local := testutil.BertTokenizer(t)
	dir := "memfs://" + t.Name()
	ctx := context.Background()
	for _, name := range []string{"tokenizer.json", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(local), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := storage.WriteFile(ctx, storage.Join(dir, name), b); err != nil {
			t.Fatal(err)
		}
	}
	remote, err := Load(storage.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := loadBert(t)
	if remote.Hash() != want.Hash() || remote.Path() != storage.Join(dir, "tokenizer.json") || remote.bert == nil {
		t.Errorf("hash %s path %s, want hash %s and the BERT encoder", remote.Hash(), remote.Path(), want.Hash())
	}
	text := "Hello, wörld: tokenizers don't care where the file was!"
	if got, exp := remote.Encode(text), want.Encode(text); !slices.Equal(got, exp) {
		t.Errorf("encode %v, want %v", got, exp)
	}
	if _, err := Load(storage.Join(dir, "missing.json")); err == nil {
		t.Error("a missing tokenizer on an object store loaded")
	}
}
