package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

// Every numeric flag checks its own range and says so (issue 15: bad
// numbers gave strconv messages or the wrong rule's complaint).
func TestNumericFlagsCheckTheirRange(t *testing.T) {
	in := filepath.Join(testutil.RepoRoot(t), "data", "fineweb-edu-llama3-sample")
	out := filepath.Join(t.TempDir(), "out")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"sample", "--target-size", "-1MB"}, `invalid argument "-1MB" for "--target-size" flag: want a size such as 500MB or 1GiB`},
		{[]string{"sample", "--target-size", "abc"}, `"--target-size" flag: want a size such as 500MB`},
		{[]string{"sample", "--target-size", "NaN"}, `"--target-size" flag: want a size such as 500MB`},
		{[]string{"sample", "--target-size", "0"}, `"--target-size" flag: want a size above 0`},
		{[]string{"sample", "--rate", "0"}, `--rate" flag: want a number in (0, 1]`},
		{[]string{"sample", "--rate", "-0.1"}, `--rate" flag: want a number in (0, 1]`},
		{[]string{"sample", "--rate", "NaN"}, `--rate" flag: want a number in (0, 1]`},
		{[]string{"sample", "--rate", "1.5"}, `--rate" flag: want a number in (0, 1]`},
		{[]string{"filter", "-m", "m", "--keep-fraction", "0"}, `"--keep-fraction" flag: want a number in (0, 1]`},
		{[]string{"filter", "-m", "m", "--keep-fraction", "NaN"}, `"--keep-fraction" flag: want a number in (0, 1]`},
		{[]string{"filter", "-m", "m", "--threshold", "Inf"}, `"--threshold" flag: want a number (finite)`},
		{[]string{"filter", "-m", "m", "--pareto", "0"}, `"--pareto" flag: want a number above 0`},
		{[]string{"reshard", "-n", "0"}, `--num-files" flag: want a whole number of at least 1`},
		{[]string{"reshard", "-n", "4", "--test-split", "NaN"}, `"--test-split" flag: want a fraction such as 0.1 or a whole row count`},
		{[]string{"import", "--test-split", "1.5"}, `"--test-split" flag: want a fraction such as 0.1 or a whole row count`},
		{[]string{"import", "--batch-size", "-3"}, `--batch-size" flag: want a whole number of at least 1`},
		{[]string{"transform", "--max-bad-rows", "-1"}, `"--max-bad-rows" flag: want a whole number of at least 0`},
		{[]string{"train-fasttext", "-d", "x", "-o", "y", "--epoch", "0"}, `"--epoch" flag: want a whole number of at least 1`},
		{[]string{"train-fasttext", "-d", "x", "-o", "y", "--learning-rate", "-1"}, `"--learning-rate" flag: want a number above 0`},
		{[]string{"filter", "-m", "m", "--keep-fraction", "2"}, `"--keep-fraction" flag: want a number in (0, 1]`},
		{[]string{"annotate", "--max-concurrency", "0"}, `"--max-concurrency" flag: want a whole number of at least 1`},
	}
	for _, c := range cases {
		args := append([]string{}, c.args...)
		if c.args[0] != "train-fasttext" {
			args = append(args, "-i", in, "-o", out)
		}
		_, err := runCLI(t, args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("winnow %s: %v, want %q", strings.Join(c.args, " "), err, c.want)
		}
	}
}

// A target size above the input keeps everything and says so.
func TestSampleWarnsWhenTheTargetExceedsTheInput(t *testing.T) {
	in := filepath.Join(testutil.RepoRoot(t), "data", "fineweb-edu-llama3-sample")
	got, err := runCLI(t, "sample", "-i", in, "-o", filepath.Join(t.TempDir(), "out"), "--target-size", "1.5GB")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "warning: the target size 1.4 GiB is more than the input holds") {
		t.Errorf("no warning:\n%s", got)
	}
}
