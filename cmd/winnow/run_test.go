package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

// TestRunTheMainJob runs the README's main job on the bundled data and checks
// that the classifier it trains selects rows the LLM scored higher.
func TestRunTheMainJob(t *testing.T) {
	data := filepath.Join(testutil.RepoRoot(t), "data", "fineweb-edu-llama3-sample")
	out, err := runCLI(t, "run", "-i", data, "-w", t.TempDir())
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"[8/8]", "1,600", "N\t400", "kept 40 of 400 rows"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	m := regexp.MustCompile(`all 400 rows ([\d.]+), kept 40 rows ([\d.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no score comparison in:\n%s", out)
	}
	all, _ := strconv.ParseFloat(m[1], 64)
	kept, _ := strconv.ParseFloat(m[2], 64)
	if kept < all+0.3 {
		t.Errorf("kept rows' mean annotated score %.2f is not clearly above the corpus's %.2f", kept, all)
	}
}
