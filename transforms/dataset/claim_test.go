package dataset

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/transforms/storage"
)

// A claim refuses an output overlapping an input, removes the temporaries
// of killed runs but not those inside another run's locked directory, and
// after a failed run removes the temporaries its writers left (issue 15: a
// 0-byte .tmp- file stayed after a disk-full failure).
func TestClaimOutput(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	in := filepath.Join(root, "in")
	if _, _, err := ClaimOutput(ctx, filepath.Join(in, "out"), []string{in}, "transform", nil); err == nil || !strings.Contains(err.Error(), "inside the input") {
		t.Errorf("an output inside the input: %v", err)
	}

	out := filepath.Join(root, "out")
	write := func(rel string) string {
		p := filepath.Join(out, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	killed := write("train/.tmp-part-0.jsonl.zst.1-1")
	nested := filepath.Join(out, "nested")
	other, err := storage.LockDir(ctx, nested, storage.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release(ctx)
	busy := write("nested/.tmp-part-0.jsonl.zst.2-1")

	_, claim, err := ClaimOutput(ctx, out, []string{in}, "transform", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(killed); !os.IsNotExist(err) {
		t.Errorf("a killed run's temporary file stayed: %v", err)
	}
	if _, err := os.Stat(busy); err != nil {
		t.Errorf("another run's temporary file was removed: %v", err)
	}
	left := write("test/.tmp-part-0.jsonl.zst.3-1")
	claim.Release(ctx, true)
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("the failed run's temporary file stayed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, storage.LockName)); !os.IsNotExist(err) {
		t.Errorf("the lock stayed: %v", err)
	}
}
