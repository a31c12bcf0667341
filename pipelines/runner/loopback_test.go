package runner

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

func TestRemoveLoopbackLitter(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	old := now.Add(-2 * loopbackGrace)
	files := []struct {
		name    string
		content string
		mtime   time.Time
		kept    bool
	}{
		{"beamloopbackworker-1", "", old, false},
		{"beamloopbackworker-2", "", old, false},
		{"beamloopbackworker-3", "", now.Add(-loopbackGrace / 2), true}, // may be staging now
		{"beamloopbackworker-4", "a real binary", old, true},
		{"worker-5", "", old, true},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, []byte(f.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, f.mtime, f.mtime); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "beamloopbackworker-dir"), 0o755); err != nil {
		t.Fatal(err)
	}

	if n := removeLoopbackLitter(dir, now); n != 2 {
		t.Errorf("removed %d files, want 2", n)
	}
	for _, f := range files {
		_, err := os.Stat(filepath.Join(dir, f.name))
		if kept := err == nil; kept != f.kept {
			t.Errorf("%s: kept = %v, want %v", f.name, kept, f.kept)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "beamloopbackworker-dir")); err != nil {
		t.Errorf("a directory with the prefix was removed: %v", err)
	}
	if n := removeLoopbackLitter(filepath.Join(dir, "missing"), now); n != 0 {
		t.Errorf("a missing directory: removed %d", n)
	}
}

func TestRunRemovesLoopbackLitterOfEarlierRuns(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	litter := func() []string {
		m, err := filepath.Glob(filepath.Join(dir, loopbackPrefix+"*"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	run := func() {
		t.Helper()
		p, s := beam.NewPipelineWithRoot()
		beam.Impulse(s)
		if _, err := Run(context.Background(), p, Options{Quiet: true}); err != nil {
			t.Fatal(err)
		}
	}

	run()
	first := litter()
	if len(first) == 0 {
		t.Skip("Beam no longer leaves a file behind on a loopback run")
	}
	old := time.Now().Add(-2 * loopbackGrace)
	for _, f := range first {
		if err := os.Chtimes(f, old, old); err != nil {
			t.Fatal(err)
		}
	}
	run()
	second := litter()
	if len(second) != 1 {
		t.Fatalf("after the second run: %v, want only its own file", second)
	}
	for _, f := range first {
		if f == second[0] {
			t.Errorf("the first run's file %s was kept", f)
		}
	}
}
