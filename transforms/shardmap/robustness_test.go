package shardmap

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardio"
)

// A shard that fails early (here a bad first row) must not disturb shards
// read at the same time: its reader goroutine is stopped before its zstd
// decoder goes back to the pool that the other shards' readers take from.
func TestEarlyFailureLeavesConcurrentShardsIntact(t *testing.T) {
	if testing.Short() {
		t.Skip("reads a few hundred MB")
	}
	dir := t.TempDir()
	write := func(name string, n int, bad bool) string {
		p := filepath.Join(dir, name)
		w, err := shardio.Create(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if i == 0 && bad {
				w.Write([]byte("not json"))
				continue
			}
			w.Write(fmt.Appendf(nil, `{"i":%d,"text":"%s"}`, i, strings.Repeat("w", 50+i%97)))
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const rows = 100_000
	bad, good := write("bad.jsonl.zst", rows, true), write("good.jsonl.zst", rows, false)
	eng := NewEngine(2)
	var mu sync.Mutex
	var failures []string
	for iter := range 8 {
		var wg sync.WaitGroup
		for k := range 2 {
			out := func(kind string) string { return filepath.Join(dir, fmt.Sprintf("%s-%d-%d.jsonl.zst", kind, iter, k)) }
			wg.Add(2)
			go func() {
				defer wg.Done()
				if _, err := eng.Run(context.Background(), Task{Input: bad, Output: out("bad")}, Work{Fingerprint: "f"}, Policy{}); err == nil {
					t.Error("the bad shard passed")
				}
			}()
			go func() {
				defer wg.Done()
				res, err := eng.Run(context.Background(), Task{Input: good, Output: out("good")}, Work{Fingerprint: "f"}, Policy{})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failures = append(failures, err.Error())
				} else if res.RowsOut != rows {
					failures = append(failures, fmt.Sprintf("%d rows out, want %d", res.RowsOut, rows))
				}
			}()
		}
		wg.Wait()
	}
	if len(failures) > 0 {
		t.Errorf("%d good shards damaged, e.g. %s", len(failures), failures[0])
	}
}

// A completed task is redone when its rejected rows now go elsewhere (or
// somewhere at all), or when its rejected output is gone.
func TestResumeChecksTheRejectedOutput(t *testing.T) {
	ctx := context.Background()
	in := writeInput(t, 100, nil)
	dir := t.TempDir()
	task := Task{Input: in, Output: filepath.Join(dir, "out.jsonl"), Marker: filepath.Join(dir, "_done", "out.json")}
	w := Work{Ops: []rows.Op{evenOnly}, Fingerprint: "f1"}
	run := func(want bool) Result {
		t.Helper()
		res, err := NewEngine(2).Run(ctx, task, w, Policy{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Resumed != want {
			t.Fatalf("rejected %q: resumed %v, want %v", task.Rejected, res.Resumed, want)
		}
		return res
	}
	run(false)
	run(true)
	task.Rejected = filepath.Join(dir, "rej", "out.jsonl")
	if res := run(false); res.Rejected != 50 {
		t.Errorf("%d rows rejected, want 50", res.Rejected)
	}
	if res := run(true); res.Rejected != 50 || res.Task.Rejected != task.Rejected {
		t.Errorf("resumed marker: %+v", res)
	}
	if err := os.Remove(task.Rejected); err != nil {
		t.Fatal(err)
	}
	run(false)
}
