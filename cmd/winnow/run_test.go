package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

// TestRunTheMainJob runs the README's main job on the bundled data and checks
// that the classifier it trains selects rows the LLM scored higher; that a
// re-run with nothing changed does no new work (the model is kept, the
// filter writes no second folder); and that training again trains the same
// model, byte for byte (issue 15: two runs trained different models).
func TestRunTheMainJob(t *testing.T) {
	data := filepath.Join(testutil.RepoRoot(t), "data", "fineweb-edu-llama3-sample")
	work := t.TempDir()
	out, err := runCLI(t, "run", "-i", data, "-w", work)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"[8/8]", "1,600", "N\t400", "1 thread(s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	m := regexp.MustCompile(`all 400 rows ([\d.]+), kept (\d+) rows ([\d.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no score comparison in:\n%s", out)
	}
	all, _ := strconv.ParseFloat(m[1], 64)
	kept, _ := strconv.ParseFloat(m[3], 64)
	if n, _ := strconv.Atoi(m[2]); n < 36 || n > 44 || !strings.Contains(out, "filter: kept "+m[2]+" of 400 rows") {
		t.Errorf("kept %s rows, want about 40 of 400:\n%s", m[2], out)
	}
	if kept < all+0.3 {
		t.Errorf("kept rows' mean annotated score %.2f is not clearly above the corpus's %.2f", kept, all)
	}
	model := filepath.Join(work, "model", "model.bin")
	first := fileSHA(t, model)

	again, err := runCLI(t, "run", "-i", data, "-w", work)
	if err != nil {
		t.Fatalf("%v\n%s", err, again)
	}
	if !strings.Contains(again, "is up to date (trained on the same data with the same arguments): kept") || strings.Contains(again, "trained "+filepath.Join(work, "model")) {
		t.Errorf("a re-run with nothing changed trained again:\n%s", again)
	}
	if err := os.RemoveAll(filepath.Join(work, "model")); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, "run", "-i", data, "-w", work); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if second := fileSHA(t, model); second != first {
		t.Errorf("training again gave another model: sha256 %s, then %s", first, second)
	}
	filtered, err := os.ReadDir(filepath.Join(work, "filtered"))
	if err != nil {
		t.Fatal(err)
	}
	if len(filtered) != 1 {
		t.Errorf("the filter wrote %d folders over three runs, want 1", len(filtered))
	}
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
