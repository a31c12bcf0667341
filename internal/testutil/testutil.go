// Package testutil holds helpers shared by the project's tests.
package testutil

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot returns the module root (the directory holding go.mod), found by
// walking up from the test's working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the test directory")
		}
		dir = parent
	}
}

// SharedData returns the path of rel inside the shared data folder
// (WINNOW_SHARED_DATA, else ../shared/data beside the checkout). When it is
// absent, as on a fresh clone, the test is skipped with a message.
func SharedData(t testing.TB, rel string) string {
	t.Helper()
	base := os.Getenv("WINNOW_SHARED_DATA")
	if base == "" {
		base = filepath.Join(RepoRoot(t), "..", "shared", "data")
	}
	p := filepath.Join(base, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data %s is not available (set WINNOW_SHARED_DATA or place ../shared/data beside the checkout): %v", rel, err)
	}
	return p
}

// BertTokenizer returns the path of bert-base-uncased's tokenizer.json,
// which the repository bundles under data/tokenizers/.
func BertTokenizer(t testing.TB) string {
	t.Helper()
	return filepath.Join(RepoRoot(t), "data", "tokenizers", "bert-base-uncased", "tokenizer.json")
}

// Testdata returns the path of rel inside the repository's testdata/ folder.
func Testdata(t testing.TB, rel string) string {
	t.Helper()
	return filepath.Join(RepoRoot(t), "testdata", rel)
}

// CopyTree copies the files below src to dst.
func CopyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s to %s: %v", src, dst, err)
	}
}

// SetFlag sets a process-wide Go flag (such as Beam's --runner) for the rest
// of the test and restores its value at cleanup.
func SetFlag(t testing.TB, name, value string) {
	t.Helper()
	f := flag.Lookup(name)
	if f == nil {
		t.Fatalf("no flag -%s", name)
	}
	old := f.Value.String()
	if err := flag.Set(name, value); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { flag.Set(name, old) })
}

// ReadJSON decodes the JSON file at path into v, failing the test if it
// cannot.
func ReadJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
