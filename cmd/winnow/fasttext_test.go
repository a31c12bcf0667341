package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

// TestFastTextCommandPassesArguments checks that `winnow fasttext` hands
// fastText's single-dash arguments through untouched.
func TestFastTextCommandPassesArguments(t *testing.T) {
	model := testutil.Testdata(t, filepath.Join("fasttext", "fasttext-net", "softmax.bin"))
	cmd := newFastTextCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader("hello good morning\n"))
	cmd.SetArgs([]string{"test-label", model, filepath.Join(t.TempDir(), "missing.txt")})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "cannot be opened") {
		t.Errorf("missing test file: %v", err)
	}
	out.Reset()
	cmd.SetArgs([]string{"-h"})
	if err := cmd.Execute(); err != nil || !strings.Contains(out.String(), "-exact") {
		t.Errorf("help: %v\n%s", err, out.String())
	}
}

// TestTrainFastTextDefaults checks bonepick's defaults on train-fasttext.
func TestTrainFastTextDefaults(t *testing.T) {
	f := newTrainFastTextCmd().Flags()
	for name, want := range map[string]string{
		"dimension": "256", "learning-rate": "0.1", "word-ngrams": "3", "min-count": "5", "epoch": "3",
		"bucket": "2000000", "window-size": "5", "num-negatives": "5", "loss": "softmax", "seed": "42",
	} {
		if got := f.Lookup(name); got == nil || got.DefValue != want {
			t.Errorf("--%s default %v, want %s", name, got, want)
		}
	}
	if f.ShorthandLookup("d") == nil || f.ShorthandLookup("o") == nil {
		t.Error("-d and -o are missing")
	}
	if ef := newEvalFastTextCmd().Flags(); ef.ShorthandLookup("m") == nil {
		t.Error("eval-fasttext -m is missing")
	}
}
