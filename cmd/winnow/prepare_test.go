package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/internal/testutil/fakecloud"
)

func TestPrepareCommands(t *testing.T) {
	data := filepath.Join(testutil.RepoRoot(t), "data", "fineweb-edu-llama3-sample")
	dir := t.TempDir()
	steps := []struct {
		args []string
		want []string
	}{
		{[]string{"import", "-i", data, "-o", dir + "/imported", "--test-split", "0.2", "-b", "500"},
			[]string{"2,000 rows in, 2,000 out", "test ", "train ", "valid "}},
		{[]string{"transform", "-i", dir + "/imported", "-o", dir + "/binary", "-l", `{score: (if .scores.score < 3 then "neg" else "pos" end)}`},
			[]string{"2,000 rows in, 2,000 out, 0 bad"}},
		{[]string{"balance", "-i", dir + "/binary", "-o", dir + "/balanced"},
			[]string{"valid: neg 925→75, pos 75→75"}},
		{[]string{"sample", "-i", dir + "/imported", "-o", dir + "/sampled", "--target-size", "1MB"},
			[]string{"target 976.6 KiB"}},
		{[]string{"reshard", "-i", dir + "/imported", "-o", dir + "/resharded", "-n", "6"},
			[]string{"2,000 rows in, 2,000 out"}},
		{[]string{"stats", "-i", dir + "/binary"},
			[]string{"train", "labels in valid:", "neg", "925"}},
	}
	for _, s := range steps {
		out, err := runCLI(t, s.args...)
		if err != nil {
			t.Fatalf("winnow %s: %v\n%s", strings.Join(s.args, " "), err, out)
		}
		for _, w := range s.want {
			if !strings.Contains(out, w) {
				t.Errorf("winnow %s: output lacks %q:\n%s", s.args[0], w, out)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "balanced", "_manifest.json")); err != nil {
		t.Error(err)
	}
	// Train and test were split with the seed: whatever their sizes, each
	// ends with as many neg rows as it has pos rows.
	out, _ := runCLI(t, "balance", "-i", dir+"/binary", "-o", dir+"/balanced")
	re := regexp.MustCompile(`(?m)^(train|test): neg ([\d,]+)→([\d,]+), pos ([\d,]+)→([\d,]+)$`)
	m := re.FindAllStringSubmatch(out, -1)
	if len(m) != 2 {
		t.Fatalf("balance report:\n%s", out)
	}
	for _, g := range m {
		if g[3] != g[4] || g[4] != g[5] {
			t.Errorf("%s: %s", g[1], g[0])
		}
	}
}

func TestBadFlagsAreClearErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sample", "-i", "x", "-o", "y"}, "at least one of the flags in the group [rate target-size] is required"},
		{[]string{"sample", "-i", "x", "-o", "y", "--target-size", "lots"}, `invalid argument "lots" for "--target-size" flag: want a size`},
		{[]string{"import", "-i", "x", "-o", "y", "--test-split", "1.5"}, "whole row count"},
		{[]string{"transform", "-i", "x", "-o", "y", "-e", ".text |"}, `jq expression ".text |"`},
		{[]string{"transform", "-i", "/no/such/dir", "-o", "y"}, "/no/such/dir: no such file or directory"},
		{[]string{"stats", "-i", "x", "--log-level", "loud"}, `--log-level "loud"`},
	} {
		_, err := runCLI(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("winnow %s: error %v, want it to mention %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

// TestDataflowDryRun translates a pipeline into a Dataflow job without
// submitting it: Beam's Dataflow flags reach the runner. Dataflow's workers
// read and write gs://, here a fake GCS.
func TestDataflowDryRun(t *testing.T) {
	fakecloud.StartGCS(t, "winnow-test")
	toGCS(t, filepath.Join(testutil.RepoRoot(t), "data", "fineweb-edu-llama3-sample"), "gs://winnow-test/in")
	out, err := runCLI(t, "transform", "-i", "gs://winnow-test/in", "-o", "gs://winnow-test/out",
		"--runner=dataflow", "--dry_run", "--project=winnow-test", "--region=us-central1",
		"--staging_location=gs://winnow-test/staging", "--temp_location=gs://winnow-test/tmp")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "submitted to dataflow") {
		t.Fatalf("output %q", out)
	}
}
