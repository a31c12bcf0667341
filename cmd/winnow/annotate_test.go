package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/internal/testutil/fakeopenai"
	"github.com/winnowlabs/winnow/transforms/prompts"
)

func TestListPrompts(t *testing.T) {
	out, err := runCLI(t, "annotate", "--list-prompts")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append(prompts.Names(), prompts.SystemPrompts()...) {
		if !strings.Contains(out, name) {
			t.Errorf("--list-prompts does not show %s:\n%s", name, out)
		}
	}
}

// annotate, a dry run and agreement through the command line, against the
// in-process OpenAI-compatible server.
func TestAnnotateAndAgreementCommands(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{})
	defer srv.Close()
	dir := t.TempDir()
	sample, err := os.ReadFile(testutil.Testdata(t, "annotate/fineweb-edu-sample.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "in", "train")
	os.MkdirAll(in, 0o755)
	lines := strings.SplitAfter(string(sample), "\n")
	os.WriteFile(filepath.Join(in, "a.jsonl"), []byte(strings.Join(lines[:24], "")), 0o644)
	os.WriteFile(filepath.Join(in, "b.jsonl"), []byte(strings.Join(lines[24:], "")), 0o644)
	taskFile := filepath.Join(dir, "task.txt")
	os.WriteFile(taskFile, []byte("Rate this page from 0 to 5; end with Final score: N\n\n{text}\n"), 0o644)
	common := []string{"annotate", "-i", filepath.Join(dir, "in"), "--model", "test-model", "--base-url", srv.URL,
		"--cache-dir", filepath.Join(dir, "cache"), "--max-concurrency", "4"}

	_, err = runCLI(t, append(common, "-o", filepath.Join(dir, "x"), "--prompt", "fineweb-edu", "--task-prompt", "@"+taskFile)...)
	if err == nil || !strings.Contains(err.Error(), "prompt") {
		t.Errorf("--prompt with --task-prompt: %v", err)
	}

	out, err := runCLI(t, append(common, "-o", filepath.Join(dir, "out"), "--task-prompt", "@"+taskFile,
		"--processor", "finalscore0-5", "--output-field", "rating", "--temperature", "0")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "48 annotated, 0 failed") || !strings.Contains(out, "48 requests") {
		t.Errorf("annotate printed:\n%s", out)
	}
	if n, _ := srv.Counts(); n != 48 {
		t.Errorf("%d requests sent", n)
	}
	if p := srv.Events()[0].Prompt; !strings.HasPrefix(p, "Rate this page from 0 to 5") {
		t.Errorf("prompt sent: %.80q", p)
	}

	out, err = runCLI(t, append(common, "-o", filepath.Join(dir, "out2"), "--task-prompt", "@"+taskFile,
		"--processor", "finalscore0-5", "--output-field", "rating", "--temperature", "0", "--dry-run", "--json")...)
	var est struct{ Rows, Cached, Requests int }
	if err != nil || json.Unmarshal([]byte(out), &est) != nil || est.Rows != 48 || est.Cached != 48 || est.Requests != 0 {
		t.Errorf("dry run: %v\n%s", err, out)
	}

	out, err = runCLI(t, "agreement", "-a", filepath.Join(dir, "out"), "--label-expression-a", ".rating.score",
		"-b", filepath.Join(dir, "in"), "--label-expression-b", ".score", "--json")
	var rep struct {
		Pairs     int
		Confusion [][]int64
	}
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil || rep.Pairs != 48 || len(rep.Confusion) == 0 {
		t.Errorf("agreement: %v\n%s", err, out)
	}
	if n, _ := srv.Counts(); n != 48 {
		t.Errorf("%d requests sent in all, want the first run's 48", n)
	}
}
