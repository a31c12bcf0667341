package models

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/internal/testutil/fakehub"
	"github.com/winnowlabs/winnow/transforms/hfhub"
)

// useHub points the environment's Hub client at srv, with an empty cache.
func useHub(t *testing.T, srv *fakehub.Server) string {
	t.Helper()
	cache := t.TempDir()
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	return cache
}

// filesUnder lists the files below dir (through links), relative.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLoadFromHub(t *testing.T) {
	src := testutil.Testdata(t, "fasttext/fasttext-net/softmax.bin")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	srv := fakehub.New(t)
	srv.Add("models", "acme/cooking-ft", map[string][]byte{"model.bin": b, "README.md": []byte("# cooking\n"), "training_args.bin": []byte("pickle")})
	srv.Add("models", "acme/classifiers", map[string][]byte{"en/quality.bin": b, "de/quality.bin": b})
	useHub(t, srv)
	t.Chdir(t.TempDir()) // no local acme/ folder
	ctx := context.Background()
	want := mustLoad(t, src, LoadOptions{})
	text := "delicious pizza pasta and sweet cake"
	for ref, name := range map[string]string{
		"hf://acme/cooking-ft":                 "cooking-ft",
		"acme/cooking-ft":                      "cooking-ft",
		"hf://acme/classifiers/en/quality.bin": "quality",
	} {
		c := mustLoad(t, ref, LoadOptions{})
		if c.Info().Name != name || c.Info().SHA256 != want.Info().SHA256 {
			t.Errorf("%s: name %q, sha256 %s", ref, c.Info().Name, c.Info().SHA256)
		}
		if got, exp := predictOne(t, c, text), predictOne(t, want, text); !slices.Equal(got.Probs, exp.Probs) {
			t.Errorf("%s: predicts %v, the local file %v", ref, got.Probs, exp.Probs)
		}
	}
	file, err := File(ctx, "hf://acme/cooking-ft")
	if err != nil || filepath.Base(file) != "model.bin" || !strings.Contains(file, filepath.Join("models--acme--cooking-ft", "snapshots")) {
		t.Errorf("File: %s, %v", file, err)
	}
	if got := filesUnder(t, filepath.Dir(file)); !slices.Equal(got, []string{"model.bin"}) {
		t.Errorf("snapshot holds %v, want only model.bin", got)
	}
	if _, err := Load(ctx, "acme/nope", LoadOptions{}); err == nil || !strings.Contains(err.Error(), "model acme/nope: no such file or directory, and not on the Hub") {
		t.Errorf("unknown model: %v", err)
	}

	// Offline, the cache serves what an earlier run fetched.
	t.Setenv("HF_HUB_OFFLINE", "1")
	srv.ResetStats()
	if c := mustLoad(t, "hf://acme/cooking-ft", LoadOptions{}); c.Info().SHA256 != want.Info().SHA256 {
		t.Errorf("offline: sha256 %s", c.Info().SHA256)
	}
	if _, err := Load(ctx, "hf://acme/classifiers/de/quality.bin", LoadOptions{}); !errors.Is(err, hfhub.ErrNotCached) || !strings.Contains(err.Error(), "de/quality.bin") {
		t.Errorf("offline, not cached: %v", err)
	}
	if st := srv.Stats(); st.Info+st.Head+st.Get+st.CDN != 0 {
		t.Errorf("offline loads made requests: %+v", st)
	}
}

func TestResolveModel2VecFromHub(t *testing.T) {
	dir := testutil.SharedData(t, "model2vec/test-model-float32")
	files := map[string][]byte{"pytorch_model.bin": []byte("pickle"), "onnx/model.onnx": []byte("onnx")}
	want := filesUnder(t, dir)
	for _, name := range want {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	srv := fakehub.New(t)
	srv.Add("models", "minishlab/test-model-float32", files)
	ctx := context.Background()

	useHub(t, srv)
	local, err := ResolvePath(ctx, "hf://minishlab/test-model-float32")
	if err != nil {
		t.Fatal(err)
	}
	// The model's files, not its card, PyTorch pickle or ONNX export.
	got := filesUnder(t, local)
	if !slices.Equal(got, []string{"config.json", "model.safetensors", "modules.json", "tokenizer.json"}) {
		t.Errorf("snapshot holds %v", got)
	}
	for _, name := range got {
		a, _ := os.ReadFile(filepath.Join(local, name))
		if !slices.Equal(a, files[name]) {
			t.Errorf("%s differs from the fixture", name)
		}
	}

	// An allow-list takes only what a caller needs.
	useHub(t, srv)
	local, err = ResolvePath(ctx, "hf://minishlab/test-model-float32", "tokenizer.json", "config.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := filesUnder(t, local); !slices.Equal(got, []string{"config.json", "tokenizer.json"}) {
		t.Errorf("with an allow-list the snapshot holds %v", got)
	}

	// Anything else is left as it is.
	if p, err := ResolvePath(ctx, dir); p != dir || err != nil {
		t.Errorf("a local path: %s, %v", p, err)
	}
}
