package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// No command writes into what it reads (issue 15's data loss): each
// command that writes a dataset, a directory or a report refuses an output
// inside its input, and leaves the input as it was.
func TestNoCommandWritesIntoItsInput(t *testing.T) {
	root := t.TempDir()
	ds := filepath.Join(root, "ds")
	for _, split := range []string{"train", "test"} {
		b, err := os.ReadFile(filepath.Join(sampleData(t), "valid.jsonl.zst"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(ds, split), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ds, split, "part-0.jsonl.zst"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ft := filepath.Join(root, "ft")
	if out, err := runCLI(t, "to-fasttext", "-i", ds, "-o", ft, "-l", "scores.score"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// A model inside the data directory: eval-fasttext would write into it.
	if out, err := runCLI(t, "train-fasttext", "-d", ft, "-o", filepath.Join(root, "m"), "--dimension", "8", "--epoch", "1", "--word-ngrams", "1", "--bucket", "0", "--verbose", "0"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := os.Rename(filepath.Join(root, "m"), filepath.Join(ft, "m")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(ds, filepath.Join(root, "dslink")); err != nil {
		t.Fatal(err)
	}
	inside := filepath.Join(root, "dslink", "out")
	model := topicModel(t)
	for _, args := range [][]string{
		{"import", "-i", ds, "-o", inside},
		{"reshard", "-i", ds, "-o", inside, "-n", "2"},
		{"transform", "-i", ds, "-o", inside, "-l", "{score: .scores.score}"},
		{"sample", "-i", ds, "-o", inside, "--rate", "0.5"},
		{"balance", "-i", ds, "-o", inside, "-l", "scores.score"},
		{"normalize", "-i", ds, "-o", inside, "-l", "scores.score"},
		{"to-fasttext", "-i", ds, "-o", inside, "-l", "scores.score"},
		{"stats", "-i", ds, "-l", "scores.score", "--output", filepath.Join(inside, "stats.json")},
		{"score", "-i", ds, "-o", inside, "-m", model},
		{"filter", "-i", ds, "-o", filepath.Join(root, "kept"), "-m", model, "--threshold", "0.5", "--rejected-dir", inside},
		{"annotate", "-i", ds, "-o", inside, "--model", "m", "--prompt", "fineweb-edu", "--processor", "json"},
		{"train-fasttext", "-d", ft, "-o", filepath.Join(ft, "model")},
		{"eval-fasttext", "-d", ft, "-m", filepath.Join(ft, "m")},
	} {
		out, err := runCLI(t, args...)
		if err == nil || !strings.Contains(err.Error(), "input") {
			t.Errorf("winnow %s: %v, want a refusal\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, p := range []string{filepath.Join(ds, "out"), filepath.Join(ft, "model"), filepath.Join(root, "kept")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s was written: %v", p, err)
		}
	}
}
