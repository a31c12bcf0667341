package hfhub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/internal/testutil/fakehub"
)

// sleeps records the waits a client asked for instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.d)
}

func newClient(t *testing.T, srv *fakehub.Server) (*Client, *sleeps) {
	t.Helper()
	sl := &sleeps{}
	return &Client{Endpoint: srv.URL, CacheDir: t.TempDir(), sleep: sl.sleep}, sl
}

// download lists acme/tiny at main and downloads names; the test fails on
// an error.
func download(t *testing.T, c *Client, names ...string) *Snapshot {
	t.Helper()
	snap, err := tryDownload(c, names...)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// tryDownload lists acme/tiny at main and downloads names.
func tryDownload(c *Client, names ...string) (*Snapshot, error) {
	info, err := c.Info(context.Background(), ModelRepo("acme/tiny", ""))
	if err != nil {
		return nil, err
	}
	return c.Download(context.Background(), info, names)
}

// modelFiles is a small model repository: git files and LFS files, nested.
func modelFiles() map[string][]byte {
	big := bytes.Repeat([]byte("0123456789abcdef"), 20_000) // 320,000 bytes
	return map[string][]byte{
		"README.md":               []byte("# a model\n"),
		"config.json":             []byte(`{"hidden_size": 8}`),
		"model.safetensors":       big,
		"1_Pooling/config.json":   []byte(`{"pooling_mode_mean_tokens": true}`),
		"pytorch_model.bin":       []byte("pickle"),
		"onnx/model.onnx":         []byte("onnx"),
		"0_StaticEmbedding/x.txt": []byte("static"),
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// cacheFiles lists every path under dir (links not followed), relative.
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

func TestDownloadCacheLayout(t *testing.T) {
	srv := fakehub.New(t)
	files := modelFiles()
	commit := srv.Add("models", "acme/tiny", files)
	c, _ := newClient(t, srv)
	ctx := context.Background()
	info, err := c.Info(ctx, ModelRepo("acme/tiny", ""))
	if err != nil {
		t.Fatal(err)
	}
	if info.Commit != commit || len(info.Files) != len(files) {
		t.Fatalf("info: commit %s, %d files", info.Commit, len(info.Files))
	}
	if f, _ := info.File("model.safetensors"); f.SHA256 != sha(files["model.safetensors"]) || f.Size != int64(len(files["model.safetensors"])) {
		t.Fatalf("LFS metadata: %+v", f)
	}
	names := []string{"config.json", "model.safetensors", "1_Pooling/config.json"}
	snap, err := c.Download(ctx, info, names)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Fetched != 3 || snap.FetchedBytes != int64(len(files["config.json"])+len(files["model.safetensors"])+len(files["1_Pooling/config.json"])) {
		t.Errorf("fetched %d files, %d bytes", snap.Fetched, snap.FetchedBytes)
	}
	repoDir := filepath.Join(c.CacheDir, "models--acme--tiny")
	if snap.Dir != filepath.Join(repoDir, "snapshots", commit) {
		t.Errorf("snapshot dir %s", snap.Dir)
	}
	// Links are relative, into blobs/ETAG, as huggingface_hub makes them:
	// the SHA-256 for an LFS file, the git blob id for the others.
	cfg, _ := info.File("config.json")
	for name, want := range map[string]string{
		"model.safetensors":     "../../blobs/" + sha(files["model.safetensors"]),
		"config.json":           "../../blobs/" + cfg.BlobID,
		"1_Pooling/config.json": "../../../blobs/",
	} {
		got, err := os.Readlink(snap.Path(name))
		if err != nil || !strings.HasPrefix(got, want) {
			t.Errorf("%s links to %q (%v), want %s...", name, got, err, want)
		}
		b, err := os.ReadFile(snap.Path(name))
		if err != nil || !bytes.Equal(b, files[name]) {
			t.Errorf("%s: content differs (%v)", name, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(repoDir, "refs", "main")); err != nil || string(b) != commit {
		t.Errorf("refs/main = %q (%v)", b, err)
	}
	if _, err := readTree(repoDir, commit); err != nil {
		t.Errorf("tree listing: %v", err)
	}
	for _, p := range cacheFiles(t, c.CacheDir) {
		if strings.HasSuffix(p, ".incomplete") || strings.Contains(p, ".tmp") {
			t.Errorf("left behind: %s", p)
		}
	}

	// A second run asks for the revision, and downloads nothing.
	srv.ResetStats()
	info, err = c.Info(ctx, ModelRepo("acme/tiny", ""))
	if err != nil {
		t.Fatal(err)
	}
	snap, err = c.Download(ctx, info, names)
	if err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); snap.Fetched != 0 || st.Head+st.Get+st.CDN != 0 || st.Info != 1 {
		t.Errorf("second run fetched %d files; requests %+v", snap.Fetched, st)
	}
}

func TestTokenOnlyToTheHub(t *testing.T) {
	srv := fakehub.New(t)
	srv.Add("models", "acme/tiny", modelFiles())
	c, _ := newClient(t, srv)
	c.Token = fakehub.Token
	download(t, c, "model.safetensors")
	if st := srv.Stats(); st.CDN != 1 || st.CDNAuth != 0 {
		t.Errorf("CDN requests %d, %d with the token", st.CDN, st.CDNAuth)
	}
}

func TestResumeAfterDroppedConnection(t *testing.T) {
	srv := fakehub.New(t)
	files := modelFiles()
	srv.Add("models", "acme/tiny", files)
	// The LFS file drops twice, the git file once.
	srv.Drop("model.safetensors", 2, 100_000)
	srv.Drop("config.json", 1, 5)
	c, sl := newClient(t, srv)
	var progress bytes.Buffer
	c.Progress = &progress
	snap := download(t, c, "model.safetensors", "config.json")
	for _, name := range []string{"model.safetensors", "config.json"} {
		if b, err := os.ReadFile(snap.Path(name)); err != nil || !bytes.Equal(b, files[name]) {
			t.Errorf("%s: content differs after resuming (%v)", name, err)
		}
	}
	st := srv.Stats()
	// Each drop is resumed with a Range request: no byte is sent twice.
	want := int64(len(files["model.safetensors"]) + len(files["config.json"]))
	if st.Bytes != want || st.Gets["model.safetensors"] != 3 || st.Gets["config.json"] != 2 {
		t.Errorf("sent %d bytes (file sizes %d), GETs %v", st.Bytes, want, st.Gets)
	}
	if len(sl.waits()) != 3 {
		t.Errorf("waits %v", sl.waits())
	}
	if !strings.Contains(progress.String(), "connection dropped at byte 100000 of 320000") {
		t.Errorf("progress output:\n%s", progress.String())
	}
}

func TestResumeAfterStall(t *testing.T) {
	srv := fakehub.New(t)
	files := modelFiles()
	srv.Add("models", "acme/tiny", files)
	// The server goes silent after 50,000 bytes.
	srv.Stall("model.safetensors", 1, 50_000, time.Minute)
	c, _ := newClient(t, srv)
	c.stall = 100 * time.Millisecond
	var progress bytes.Buffer
	c.Progress = &progress
	start := time.Now()
	snap := download(t, c, "model.safetensors")
	if b, _ := os.ReadFile(snap.Path("model.safetensors")); !bytes.Equal(b, files["model.safetensors"]) {
		t.Error("content differs")
	}
	if st := srv.Stats(); st.Gets["model.safetensors"] != 2 || st.Bytes != int64(len(files["model.safetensors"])) {
		t.Errorf("GETs %v, %d bytes sent", st.Gets, st.Bytes)
	}
	if !strings.Contains(progress.String(), "connection dropped at byte 50000 of 320000 (nothing received for 100ms)") || time.Since(start) > 30*time.Second {
		t.Errorf("after %s, progress output:\n%s", time.Since(start), progress.String())
	}
}

func TestResumeAnInterruptedRun(t *testing.T) {
	srv := fakehub.New(t)
	files := modelFiles()
	srv.Add("models", "acme/tiny", files)
	c, _ := newClient(t, srv)
	content := files["model.safetensors"]
	// An earlier run was killed after 200,000 bytes.
	blobs := filepath.Join(c.CacheDir, "models--acme--tiny", "blobs")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(blobs, sha(content)+".incomplete"), content[:200_000], 0o644); err != nil {
		t.Fatal(err)
	}
	snap := download(t, c, "model.safetensors")
	if b, _ := os.ReadFile(snap.Path("model.safetensors")); !bytes.Equal(b, content) {
		t.Error("content differs")
	}
	if st := srv.Stats(); st.Bytes != int64(len(content)-200_000) {
		t.Errorf("sent %d bytes, want the missing %d", st.Bytes, len(content)-200_000)
	}
}

func TestBadHashIsDownloadedOnceMore(t *testing.T) {
	srv := fakehub.New(t)
	files := modelFiles()
	srv.Add("models", "acme/tiny", files)
	srv.Corrupt("model.safetensors", 1)
	srv.Corrupt("config.json", 1)
	c, _ := newClient(t, srv)
	snap := download(t, c, "model.safetensors", "config.json")
	for _, name := range []string{"model.safetensors", "config.json"} {
		if b, _ := os.ReadFile(snap.Path(name)); !bytes.Equal(b, files[name]) {
			t.Errorf("%s: content differs", name)
		}
		if n := srv.Stats().Gets[name]; n != 2 {
			t.Errorf("%s: %d GETs, want 2", name, n)
		}
	}
}

func TestBadHashTwiceFails(t *testing.T) {
	srv := fakehub.New(t)
	srv.Add("models", "acme/tiny", modelFiles())
	for _, name := range []string{"model.safetensors", "config.json"} {
		srv.Corrupt(name, 2)
		c, _ := newClient(t, srv)
		_, err := tryDownload(c, name)
		kind := "SHA-256"
		if name == "config.json" {
			kind = "git blob id"
		}
		if !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), kind) {
			t.Fatalf("%s: error %v", name, err)
		}
		// Nothing partial: no blob, no .incomplete, no snapshot entry.
		for _, p := range cacheFiles(t, c.CacheDir) {
			if strings.Contains(p, "blobs/") || strings.Contains(p, "snapshots/") {
				t.Errorf("%s: left %s", name, p)
			}
		}
	}
}

func TestRateLimitHonoursRetryAfter(t *testing.T) {
	srv := fakehub.New(t)
	files := modelFiles()
	srv.Add("models", "acme/tiny", files)
	srv.RateLimit("model.safetensors", 3, "7")
	c, sl := newClient(t, srv)
	c.MaxWait = 10 * time.Second
	snap := download(t, c, "model.safetensors")
	if b, _ := os.ReadFile(snap.Path("model.safetensors")); !bytes.Equal(b, files["model.safetensors"]) {
		t.Error("content differs")
	}
	if got := sl.waits(); !slices.Equal(got, []time.Duration{7 * time.Second, 7 * time.Second, 7 * time.Second}) {
		t.Errorf("waits %v, want 3 × the Retry-After of 7s", got)
	}

	// A Retry-After beyond MaxWait is capped; past MaxRetries it fails.
	srv.RateLimit("config.json", 10, "86400")
	c, sl = newClient(t, srv)
	c.MaxRetries = 2
	_, err := tryDownload(c, "config.json")
	if !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "config.json") {
		t.Fatalf("error %v", err)
	}
	if got := sl.waits(); !slices.Equal(got, []time.Duration{2 * time.Minute, 2 * time.Minute}) {
		t.Errorf("waits %v, want 2 × the 2m cap", got)
	}
}

func TestErrors(t *testing.T) {
	srv := fakehub.New(t)
	srv.Add("models", "acme/tiny", modelFiles())
	srv.Add("datasets", "acme/gated", map[string][]byte{"data/train.jsonl": []byte(`{"text":"a"}` + "\n")})
	srv.Gate("datasets", "acme/gated")
	ctx := context.Background()
	c, _ := newClient(t, srv)

	_, err := c.Info(ctx, ModelRepo("acme/nope", ""))
	if !errors.Is(err, ErrRepoNotFound) || !strings.Contains(err.Error(), "model acme/nope not found on "+srv.URL) || !strings.Contains(err.Error(), "set HF_TOKEN") {
		t.Errorf("unknown repository: %v", err)
	}
	_, err = c.Info(ctx, DatasetRepo("acme/tiny", ""))
	if !errors.Is(err, ErrRepoNotFound) || !strings.Contains(err.Error(), "dataset acme/tiny") {
		t.Errorf("wrong type: %v", err)
	}
	_, err = c.Info(ctx, ModelRepo("acme/tiny", "v9"))
	if !errors.Is(err, ErrRevisionNotFound) || !strings.Contains(err.Error(), `model acme/tiny has no revision "v9"`) {
		t.Errorf("unknown revision: %v", err)
	}
	info, err := c.Info(ctx, ModelRepo("acme/tiny", ""))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Download(ctx, info, []string{"nope.json"})
	if !errors.Is(err, ErrEntryNotFound) || !strings.Contains(err.Error(), "nope.json") {
		t.Errorf("unknown file: %v", err)
	}

	// A gated repository lists its files to anyone, serves them only with
	// a token that was granted access.
	gated, err := c.Info(ctx, DatasetRepo("acme/gated", ""))
	if err != nil || gated.Gated != "manual" {
		t.Fatalf("gated info: %+v, %v", gated, err)
	}
	_, err = c.Download(ctx, gated, []string{"data/train.jsonl"})
	if !errors.Is(err, ErrGated) || !strings.Contains(err.Error(), "accept its conditions on "+srv.URL+"/datasets/acme/gated, then set HF_TOKEN") {
		t.Errorf("gated without a token: %v", err)
	}
	c.Token = "hf_wrongTOKEN"
	_, err = c.Download(ctx, gated, []string{"data/train.jsonl"})
	if !errors.Is(err, ErrGated) || !strings.Contains(err.Error(), "has not been granted access") || strings.Contains(err.Error(), c.Token) {
		t.Errorf("gated with another token: %v", err)
	}
	c.Token = fakehub.Token
	if _, err := c.Download(ctx, gated, []string{"data/train.jsonl"}); err != nil {
		t.Errorf("gated with the token: %v", err)
	}
}

func TestTokenIsNeverShown(t *testing.T) {
	srv := fakehub.New(t)
	srv.Add("models", "acme/tiny", modelFiles())
	srv.Drop("config.json", 1, 3)
	srv.RateLimit("model.safetensors", 1, "1")
	srv.Corrupt("model.safetensors", 2)
	c, _ := newClient(t, srv)
	c.Token = "hf_secretSECRETsecret"
	var out bytes.Buffer
	c.Progress = &out
	ctx := context.Background()
	var msgs []string
	for _, repo := range []Repo{ModelRepo("acme/nope", ""), ModelRepo("acme/tiny", "v9")} {
		_, err := c.Info(ctx, repo)
		msgs = append(msgs, err.Error())
	}
	info, err := c.Info(ctx, ModelRepo("acme/tiny", ""))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Download(ctx, info, []string{"config.json", "model.safetensors"})
	if err == nil {
		t.Fatal("corrupt download succeeded")
	}
	msgs = append(msgs, err.Error(), out.String())
	for _, m := range msgs {
		if strings.Contains(m, "SECRET") {
			t.Errorf("the token shows in %q", m)
		}
	}
}

func TestOffline(t *testing.T) {
	srv := fakehub.New(t)
	files := modelFiles()
	commit := srv.Add("models", "acme/tiny", files)
	srv.Tag("models", "acme/tiny", "v1", commit)
	c, _ := newClient(t, srv)
	ctx := context.Background()
	info, err := c.Info(ctx, ModelRepo("acme/tiny", "v1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Download(ctx, info, []string{"config.json", "model.safetensors"}); err != nil {
		t.Fatal(err)
	}
	srv.ResetStats()
	off := &Client{Endpoint: srv.URL, CacheDir: c.CacheDir, Offline: true}
	info, err = off.Info(ctx, ModelRepo("acme/tiny", "v1"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Commit != commit || info.Listed != "tree" || len(info.Files) != len(files) {
		t.Fatalf("offline info: %s %s %d files", info.Commit, info.Listed, len(info.Files))
	}
	snap, err := off.Download(ctx, info, []string{"config.json", "model.safetensors"})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(snap.Path("config.json")); !bytes.Equal(b, files["config.json"]) {
		t.Error("offline content differs")
	}
	_, err = off.Download(ctx, info, []string{"config.json", "README.md"})
	if !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") || !strings.Contains(err.Error(), "lacks README.md") {
		t.Errorf("missing file offline: %v", err)
	}
	_, err = off.Info(ctx, ModelRepo("acme/tiny", ""))
	if !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), "refs/main") {
		t.Errorf("unknown revision offline: %v", err)
	}
	// A commit hash needs no refs/.
	if _, err := off.Info(ctx, ModelRepo("acme/tiny", commit)); err != nil {
		t.Errorf("offline by commit: %v", err)
	}
	// A cache without tree listings (an older huggingface_hub's) lists
	// what its snapshot holds.
	if err := os.RemoveAll(filepath.Join(c.CacheDir, "models--acme--tiny", "trees")); err != nil {
		t.Fatal(err)
	}
	info, err = off.Info(ctx, ModelRepo("acme/tiny", "v1"))
	if err != nil || info.Listed != "snapshot" || !slices.Equal(info.Paths(), []string{"config.json", "model.safetensors"}) {
		t.Errorf("offline info without a tree listing: %+v, %v", info, err)
	}
	if st := srv.Stats(); st.Info+st.Head+st.Get+st.CDN != 0 {
		t.Errorf("offline client made requests: %+v", st)
	}
}

func TestRenamedRepository(t *testing.T) {
	srv := fakehub.New(t)
	files := modelFiles()
	srv.Add("models", "acme/old", files)
	srv.Rename("models", "acme/old", "acme/new")
	c, _ := newClient(t, srv)
	info, err := c.Info(context.Background(), ModelRepo("acme/old", ""))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := c.Download(context.Background(), info, []string{"config.json", "model.safetensors"})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(snap.Path("config.json")); !bytes.Equal(b, files["config.json"]) {
		t.Error("content differs")
	}
}

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Ref
		err  string
	}{
		{in: "hf://acme/tiny", want: Ref{Repo: Repo{Type: Model, ID: "acme/tiny"}}},
		{in: "hf://acme/tiny@v1.0", want: Ref{Repo: Repo{Type: Model, ID: "acme/tiny", Revision: "v1.0"}}},
		{in: "hf://acme/tiny@v1/sub/model.bin", want: Ref{Repo: Repo{Type: Model, ID: "acme/tiny", Revision: "v1"}, Path: "sub/model.bin"}},
		{in: "hf://acme/tiny@refs/pr/3/model.bin", want: Ref{Repo: Repo{Type: Model, ID: "acme/tiny", Revision: "refs/pr/3"}, Path: "model.bin"}},
		{in: "hf://datasets/acme/data@refs/convert/parquet", want: Ref{Repo: Repo{Type: Dataset, ID: "acme/data", Revision: "refs/convert/parquet"}}},
		{in: "hf://models/acme/tiny/lid.176.ftz", want: Ref{Repo: Repo{Type: Model, ID: "acme/tiny"}, Path: "lid.176.ftz"}},
		{in: "hf://acme", err: "want hf://OWNER/NAME"},
		{in: "hf://acme/tiny@", err: "empty revision"},
		{in: "hf://acme/ti--ny", err: "not a Hub repository id"},
		{in: "hf://acme/tiny/../x", err: "invalid file name"},
	} {
		got, ok, err := ParseRef(tc.in, Model)
		if !ok {
			t.Errorf("%s: not taken for a reference", tc.in)
			continue
		}
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if got.String() != strings.Replace(tc.in, "hf://models/", "hf://", 1) {
			t.Errorf("%s: String() = %s", tc.in, got)
		}
	}
	if _, ok, _ := ParseRef("models/edu-ft", Model); ok {
		t.Error("a plain path taken for a reference")
	}
}

func TestPatterns(t *testing.T) {
	for _, tc := range []struct {
		glob    bool
		pattern string
		match   []string
		noMatch []string
	}{
		{false, "*.json", []string{"config.json", "1_Pooling/config.json"}, []string{"config.jsonl"}},
		{false, "0_StaticEmbedding/", []string{"0_StaticEmbedding/model.safetensors"}, []string{"model.safetensors"}},
		{false, "model-[0-9]?.bin", []string{"model-01.bin"}, []string{"model-a1.bin"}},
		{true, "data/*", []string{"data/train.parquet"}, []string{"data/x/train.parquet", "train.parquet"}},
		{true, "**/train[-._ 0-9]*", []string{"train.jsonl", "data/train-00000-of-00001.parquet"}, []string{"data/training.jsonl", "mytrain.jsonl"}},
		{true, "**/*[-._ 0-9]test[-._ 0-9]*", []string{"data/my_test.jsonl"}, []string{"data/mytest.jsonl"}},
		{true, "**/validation/**", []string{"validation/a.json", "en/validation/x/a.json"}, []string{"validations/a.json"}},
		{true, "data/**", []string{"data/a", "data/b/c"}, []string{"datab/c"}},
		{true, "[!_]*.csv", []string{"a.csv"}, []string{"_a.csv", "/a.csv"}},
	} {
		compile := CompilePattern
		if tc.glob {
			compile = CompileGlob
		}
		p, err := compile(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range tc.match {
			if !p.Match(m) {
				t.Errorf("%q does not match %q", tc.pattern, m)
			}
		}
		for _, m := range tc.noMatch {
			if p.Match(m) {
				t.Errorf("%q matches %q", tc.pattern, m)
			}
		}
	}
}

func TestFromEnv(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, k := range []string{"HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"} {
		t.Setenv(k, "")
	}
	c := FromEnv()
	if c.Endpoint != DefaultEndpoint || c.Token != "" || c.Offline || c.CacheDir != filepath.Join(home, ".cache", "huggingface", "hub") {
		t.Errorf("defaults: %+v", c)
	}
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if got := CacheDirFromEnv(); got != "/xdg/huggingface/hub" {
		t.Errorf("XDG_CACHE_HOME: %s", got)
	}
	t.Setenv("HF_HOME", "~/hf")
	if err := os.MkdirAll(filepath.Join(home, "hf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "hf", "token"), []byte("hf_fromfile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c = FromEnv()
	if c.CacheDir != filepath.Join(home, "hf", "hub") || c.Token != "hf_fromfile" {
		t.Errorf("HF_HOME: cache %s, token %q", c.CacheDir, c.Token)
	}
	t.Setenv("HF_HUB_CACHE", "/hub-cache")
	t.Setenv("HF_TOKEN", "hf_fromenv")
	t.Setenv("HF_ENDPOINT", "https://mirror.example/")
	t.Setenv("HF_HUB_OFFLINE", "yes")
	c = FromEnv()
	if c.CacheDir != "/hub-cache" || c.Token != "hf_fromenv" || !c.Offline || c.endpoint() != "https://mirror.example" {
		t.Errorf("overrides: %+v", c)
	}
}

func TestModel(t *testing.T) {
	srv := fakehub.New(t)
	files := modelFiles()
	files["sub/lid.ftz"] = []byte("fasttext")
	srv.Add("models", "acme/tiny", files)
	c, _ := newClient(t, srv)
	ctx := context.Background()
	dir, err := c.Model(ctx, Ref{Repo: ModelRepo("acme/tiny", "")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return nil
	})
	want := []string{"0_StaticEmbedding/x.txt", "1_Pooling/config.json", "config.json", "model.safetensors", "sub/lid.ftz"}
	if !slices.Equal(got, want) {
		t.Errorf("snapshot holds %v, want %v", got, want)
	}
	p, err := c.Model(ctx, Ref{Repo: ModelRepo("acme/tiny", ""), Path: "sub/lid.ftz"}, nil)
	if err != nil || p != filepath.Join(dir, "sub", "lid.ftz") {
		t.Errorf("file reference: %s, %v", p, err)
	}
	_, err = c.Model(ctx, Ref{Repo: ModelRepo("acme/tiny", ""), Path: "nope"}, nil)
	if !errors.Is(err, ErrEntryNotFound) {
		t.Errorf("missing path: %v", err)
	}
	_, err = c.Model(ctx, Ref{Repo: ModelRepo("acme/tiny", "")}, []string{"*.gguf"})
	if err == nil || !strings.Contains(err.Error(), "holds none of the files a model needs (*.gguf)") {
		t.Errorf("no matching file: %v", err)
	}
}

func TestResolveModel(t *testing.T) {
	srv := fakehub.New(t)
	srv.Add("models", "acme/tiny", modelFiles())
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	ctx := context.Background()
	t.Chdir(t.TempDir())
	for _, p := range []string{"hf://acme/tiny", "acme/tiny"} {
		local, ref, err := ResolveModel(ctx, p, nil)
		if err != nil || ref == nil || ref.ID != "acme/tiny" || ref.Name() != "tiny" {
			t.Fatalf("%s: %s %+v %v", p, local, ref, err)
		}
		if _, err := os.Stat(filepath.Join(local, "config.json")); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	// A local path of that name wins.
	if err := os.MkdirAll("acme/tiny", 0o755); err != nil {
		t.Fatal(err)
	}
	if local, ref, err := ResolveModel(ctx, "acme/tiny", nil); local != "acme/tiny" || ref != nil || err != nil {
		t.Errorf("local path: %s %+v %v", local, ref, err)
	}
	if local, ref, err := ResolveModel(ctx, "models/x/y", nil); local != "models/x/y" || ref != nil || err != nil {
		t.Errorf("three elements: %s %+v %v", local, ref, err)
	}
	_, _, err := ResolveModel(ctx, "acme/nope", nil)
	if err == nil || !strings.Contains(err.Error(), "model acme/nope: no such file or directory, and not on the Hub") {
		t.Errorf("unknown bare name: %v", err)
	}
}

// BenchmarkDownload measures a snapshot download from the in-process Hub:
// 16 LFS files of 4 MiB, 8 at a time, each written, checked (SHA-256) and
// linked; the loopback network makes it the client's own cost.
func BenchmarkDownload(b *testing.B) {
	srv := fakehub.New(b)
	files := map[string][]byte{}
	var names []string
	for i := range 16 {
		name := fmt.Sprintf("data/train-%05d-of-00016.parquet", i)
		files[name] = bytes.Repeat([]byte{byte(i)}, 4<<20)
		names = append(names, name)
	}
	srv.Add("datasets", "acme/bench", files)
	b.SetBytes(16 * 4 << 20)
	for b.Loop() {
		c := &Client{Endpoint: srv.URL, CacheDir: b.TempDir()}
		info, err := c.Info(context.Background(), DatasetRepo("acme/bench", ""))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Download(context.Background(), info, names); err != nil {
			b.Fatal(err)
		}
	}
}
