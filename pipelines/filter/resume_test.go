//go:build unix

package filter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/transforms/storage"
)

// TestResumeAfterSIGKILL kills a filter run (a child process) mid-run, runs
// it again and compares every file with an uninterrupted run's. One input
// shard is a named pipe while the child runs: reading it blocks, so the
// child cannot finish before it is killed, while the other shards are
// being written.
func TestResumeAfterSIGKILL(t *testing.T) {
	for _, mode := range []string{"threshold", "keep-fraction"} {
		t.Run(mode, func(t *testing.T) { testResume(t, mode) })
	}
}

func testResume(t *testing.T, mode string) {
	const shards = 24
	root := t.TempDir()
	in := filepath.Join(root, "in")
	rows := sampleRows(t)
	splitShards(t, in, append(rows, rows...), shards)
	options := func(out, rejected string) FilterOptions {
		o := FilterOptions{
			ScoreOptions: ScoreOptions{Common: common(out, in), Model: ModelOptions{Path: eduModel(t)}},
			RejectedDir:  rejected,
		}
		if mode == "keep-fraction" {
			o.KeepFraction = 0.3
		} else {
			threshold := 1.1
			o.Threshold = &threshold
		}
		return o
	}
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	if _, err := Filter(context.Background(), options(filepath.Join(a, "out"), filepath.Join(a, "rej"))); err != nil {
		t.Fatal(err)
	}

	last := filepath.Join(in, fmt.Sprintf("part-%02d.jsonl.zst", shards-1))
	real, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(last)
	if err := syscall.Mkfifo(last, 0o644); err != nil {
		t.Fatal(err)
	}
	enc, _ := json.Marshal(options(filepath.Join(b, "out"), filepath.Join(b, "rej")))
	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), childEnv+"="+string(enc))
	var stderr bytes.Buffer
	child.Stderr = &stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once half the shards are committed (their markers written) and
	// some output is open under a temporary name (at the latest, the
	// blocked shard's, once every other shard is done).
	version := filepath.Base(mustGlob(t, filepath.Join(a, "out", "edu-*")))
	markers := filepath.Join(b, "out", version, "_done")
	if mode == "keep-fraction" {
		markers = filepath.Join(b, "out", version, ScoredDir, "_done")
	}
	deadline := time.Now().Add(2 * time.Minute)
	for countFiles(markers) < shards/2 || countTemporaries(b) == 0 {
		if time.Now().After(deadline) {
			child.Process.Kill()
			t.Fatalf("the child did not get halfway: %s", stderr.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	if _, err := os.Stat(filepath.Join(b, "out", version, "_manifest.json")); err == nil {
		t.Fatal("the killed run wrote its manifest")
	}

	os.Remove(last)
	if err := os.WriteFile(last, real, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Filter(context.Background(), options(filepath.Join(b, "out"), filepath.Join(b, "rej")))
	if err != nil {
		t.Fatal(err)
	}
	if res.Counters["shards_resumed"]+res.Counters["intermediate_shards_resumed"] == 0 {
		t.Errorf("the second run resumed no shard: %v", res.Counters)
	}
	// The resumed shards' scores count once in the distribution.
	if rep := res.Report; rep.Scores == nil || rep.Scores.Total() != rep.RowsIn-rep.Bad || rep.RowsIn != int64(2*len(rows)) {
		t.Errorf("the score histogram counts %v rows of %d (%d bad)", rep.Scores, rep.RowsIn, rep.Bad)
	}
	for _, sub := range []string{"out", "rej"} {
		da, db := filepath.Join(a, sub), filepath.Join(b, sub)
		fa, fb := treeFiles(t, da), treeFiles(t, db)
		if strings.Join(fa, "\n") != strings.Join(fb, "\n") {
			t.Fatalf("%s: files differ\nuninterrupted: %v\nresumed:       %v", sub, fa, fb)
		}
		for _, rel := range fb {
			if strings.HasPrefix(filepath.Base(rel), storage.TempPrefix) {
				t.Errorf("temporary file left: %s", rel)
			}
			ba, _ := os.ReadFile(filepath.Join(da, rel))
			bb, _ := os.ReadFile(filepath.Join(db, rel))
			// Markers and manifests name their own paths.
			if !bytes.Equal(bytes.ReplaceAll(ba, []byte(a), []byte(b)), bb) {
				t.Errorf("%s/%s differs after the resume", sub, rel)
			}
		}
	}
}

func mustGlob(t *testing.T, pattern string) string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) != 1 {
		t.Fatalf("%s matches %v", pattern, m)
	}
	return m[0]
}

func countTemporaries(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), storage.TempPrefix) {
			n++
		}
		return nil
	})
	return n
}

func countFiles(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), storage.TempPrefix) {
			n++
		}
		return nil
	})
	return n
}
