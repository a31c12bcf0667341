package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// parsed returns the subcommand of args with its flags parsed, not run.
func parsed(t *testing.T, args ...string) *cobra.Command {
	t.Helper()
	cmd, rest, err := newRootCmd().Find(args)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// Every flag listed as a worker path exists in its command.
func TestWorkerPathFlagsExist(t *testing.T) {
	root := newRootCmd()
	for name, flags := range workerPathFlags {
		cmd, _, err := root.Find([]string{name})
		if err != nil || cmd.Name() != name {
			t.Errorf("no command %q", name)
			continue
		}
		for _, f := range flags {
			if cmd.Flags().Lookup(f) == nil {
				t.Errorf("%s has no flag --%s", name, f)
			}
		}
	}
}

// On a distributed run, relative local paths become absolute, with a
// warning that the workers must see them; object-store paths stay as they
// are; a local run keeps every path as given.
func TestWorkerPathsOnAJobServer(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	args := []string{"filter", "-i", "in/a", "-i", "gs://b/in", "-o", "out", "-m", "gs://b/model", "--rejected-dir", "rej"}

	cmd := parsed(t, args...)
	var warn bytes.Buffer
	if err := resolveWorkerPaths(cmd, &warn); err != nil {
		t.Fatal(err)
	}
	if got, _ := cmd.Flags().GetString("output-dir"); got != "out" || warn.Len() != 0 {
		t.Fatalf("local run: output %q, warnings %q", got, warn.String())
	}

	testutil.SetFlag(t, "runner", "universal")
	testutil.SetFlag(t, "endpoint", "localhost:8099")
	testutil.SetFlag(t, "environment_type", "EXTERNAL")
	cmd = parsed(t, args...)
	if err := resolveWorkerPaths(cmd, &warn); err != nil {
		t.Fatal(err)
	}
	in, _ := cmd.Flags().GetStringArray("input-dir")
	out, _ := cmd.Flags().GetString("output-dir")
	rej, _ := cmd.Flags().GetString("rejected-dir")
	model, _ := cmd.Flags().GetString("model")
	want := []string{filepath.Join(dir, "in/a"), "gs://b/in", filepath.Join(dir, "out"), filepath.Join(dir, "rej"), "gs://b/model"}
	if got := append(in, out, rej, model); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("paths %q, want %q", got, want)
	}
	for _, p := range []string{"--input-dir " + filepath.Join(dir, "in/a"), "--output-dir " + filepath.Join(dir, "out"), "--rejected-dir"} {
		if !strings.Contains(warn.String(), p) {
			t.Errorf("no warning for %s in:\n%s", p, warn.String())
		}
	}
	if strings.Contains(warn.String(), "gs://b") {
		t.Errorf("warned about an object-store path:\n%s", warn.String())
	}

	// With LOOPBACK the workers run in this process: nothing changes.
	testutil.SetFlag(t, "environment_type", "LOOPBACK")
	cmd = parsed(t, args...)
	warn.Reset()
	if err := resolveWorkerPaths(cmd, &warn); err != nil || warn.Len() != 0 {
		t.Fatalf("loopback: %v, warnings %q", err, warn.String())
	}
}

// A base model given as a Hub id stays an id; one given as a local
// directory becomes absolute.
func TestWorkerPathsHubOrPath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("base", 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.SetFlag(t, "runner", "universal")
	testutil.SetFlag(t, "environment_type", "PROCESS")
	for value, want := range map[string]string{"minishlab/potion-base-8M": "minishlab/potion-base-8M", "base": filepath.Join(dir, "base")} {
		cmd := parsed(t, "train-model2vec", "-d", "gs://b/ds", "-o", "m", "--model-name", value)
		if err := resolveWorkerPaths(cmd, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		if got, _ := cmd.Flags().GetString("model-name"); got != want {
			t.Errorf("--model-name %s became %q, want %q", value, got, want)
		}
	}
}

// Dataflow's workers are other machines: a local path is refused before
// anything is submitted, naming the flag; memfs:// is refused on any
// distributed runner.
func TestWorkerPathsRefused(t *testing.T) {
	testutil.SetFlag(t, "runner", "dataflow")
	_, err := runCLI(t, "transform", "-i", "gs://b/in", "-o", "out")
	if err == nil || !strings.Contains(err.Error(), "--output-dir out: a local path, but dataflow's workers run on other machines") {
		t.Errorf("dataflow with a local output: %v", err)
	}
	testutil.SetFlag(t, "runner", "universal")
	testutil.SetFlag(t, "environment_type", "EXTERNAL")
	_, err = runCLI(t, "sample", "-i", "memfs://in", "-o", "gs://b/out", "-r", "0.5")
	if err == nil || !strings.Contains(err.Error(), "--input-dir memfs://in: memfs:// lives in this process's memory") {
		t.Errorf("memfs input on a job server: %v", err)
	}
}

// toGCS copies a local file, or the files of a local directory, to the
// object-store path to (a fake GCS in tests) and returns to.
func toGCS(t *testing.T, from, to string) string {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := to
		if rel != "." {
			dst = storage.Join(to, filepath.ToSlash(rel))
		}
		return storage.WriteFile(context.Background(), dst, b)
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}
