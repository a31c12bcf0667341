package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/internal/testutil/fakehub"
)

// useHub points the environment's Hub client at srv, with an empty cache.
func useHub(t *testing.T, srv *fakehub.Server) {
	t.Helper()
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_HUB_OFFLINE", "")
}

// sameDirShards fails unless a and b hold the same shard files.
func sameDirShards(t *testing.T, a, b string) {
	t.Helper()
	for _, split := range []string{"train", "valid", "test"} {
		as, _ := filepath.Glob(filepath.Join(a, split, "*.jsonl.zst"))
		bs, _ := filepath.Glob(filepath.Join(b, split, "*.jsonl.zst"))
		if len(as) == 0 || len(as) != len(bs) {
			t.Fatalf("%s: %d shards in %s, %d in %s", split, len(as), a, len(bs), b)
		}
		for i := range as {
			x, _ := os.ReadFile(as[i])
			y, _ := os.ReadFile(bs[i])
			if filepath.Base(as[i]) != filepath.Base(bs[i]) || !bytes.Equal(x, y) {
				t.Errorf("%s differs from %s", as[i], bs[i])
			}
		}
	}
}

func TestImportFromHub(t *testing.T) {
	sample := filepath.Join(testutil.RepoRoot(t), "data", "fineweb-edu-llama3-sample")
	srv := fakehub.New(t)
	commit := srv.AddDir(t, "datasets", "HuggingFaceFW/fineweb-edu-llama3-annotations", sample, "")
	useHub(t, srv)
	dir := t.TempDir()
	const name = "HuggingFaceFW/fineweb-edu-llama3-annotations"
	out, err := runCLI(t, "import", "--hf-dataset", name, "-o", dir+"/hub", "--test-split", "0.2", "-b", "500")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"hub: dataset " + name + " at commit " + commit + ": train (1 file), validation (1 file); 2 files downloaded",
		"2,000 rows in, 2,000 out",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := runCLI(t, "import", "-i", sample, "-o", dir+"/local", "--test-split", "0.2", "-b", "500"); err != nil {
		t.Fatal(err)
	}
	sameDirShards(t, dir+"/local", dir+"/hub")

	// bonepick's command line, from the cache.
	out, err = runCLI(t, "import-hf-dataset", "-n", name, "-o", dir+"/bonepick", "-t", "0.2", "-b", "500", "-S", "42")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "0 files downloaded (0 B), 2 from the cache") {
		t.Errorf("second run output:\n%s", out)
	}
	sameDirShards(t, dir+"/local", dir+"/bonepick")

	t.Setenv("HF_HUB_OFFLINE", "1")
	if out, err := runCLI(t, "import", "--hf-dataset", name, "--split", "train", "-o", dir+"/offline", "--test-split", "0.2"); err != nil {
		t.Fatalf("offline: %v\n%s", err, out)
	}
	_, err = runCLI(t, "import", "--hf-dataset", "acme/nope", "-o", dir+"/nope", "--test-split", "0.2")
	if err == nil || !strings.Contains(err.Error(), "dataset acme/nope: HF_HUB_OFFLINE is set and the cache lacks it") {
		t.Errorf("offline, not cached: %v", err)
	}
}

func TestImportFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"import", "-o", "y", "--test-split", "0.1"}, "at least one of the flags in the group [input-dir hf-dataset] is required"},
		{[]string{"import", "-i", "x", "--hf-dataset", "a/b", "-o", "y"}, "none of the others can be; [hf-dataset input-dir] were all set"},
		{[]string{"import", "-i", "x", "-o", "y", "--revision", "v1"}, "--revision goes with --hf-dataset"},
		{[]string{"import", "--hf-dataset", "a/b", "-o", "y", "--config", "c", "--data-dir", "d"}, "none of the others can be; [config data-dir] were all set"},
		{[]string{"import-hf-dataset", "-n", "a/b"}, `required flag(s) "output-dir" not set`},
		{[]string{"import-hf-dataset", "-n", "not a name", "-o", "y", "-t", "0.1"}, `"not a name" is not a Hub repository id`},
	} {
		_, err := runCLI(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("winnow %s: error %v, want it to mention %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

func TestScoreWithAHubModel(t *testing.T) {
	model, err := os.ReadFile(testutil.Testdata(t, "fasttext/fasttext-net/softmax.bin"))
	if err != nil {
		t.Fatal(err)
	}
	srv := fakehub.New(t)
	srv.Add("models", "acme/cooking-ft", map[string][]byte{"model.bin": model, "README.md": []byte("# a model\n")})
	useHub(t, srv)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(in, []byte(`{"text":"delicious pizza pasta and sweet cake"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "score", "-i", in, "-o", dir+"/scored", "-m", "hf://acme/cooking-ft")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	shards, _ := filepath.Glob(filepath.Join(dir, "scored", "cooking-ft-*", "*.jsonl.zst"))
	if len(shards) != 1 {
		t.Fatalf("scored shards %v:\n%s", shards, out)
	}
}
