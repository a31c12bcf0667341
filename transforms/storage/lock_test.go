package storage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/internal/testutil/fakecloud"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// writeLock plants a lock file as another run would have left it.
func writeLock(t *testing.T, dir string, o storage.LockOwner) {
	t.Helper()
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.WriteFile(context.Background(), storage.Join(dir, storage.LockName), b); err != nil {
		t.Fatal(err)
	}
}

// deadPID returns the id of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	return cmd.Process.Pid
}

// One writer per directory, on every filesystem: a second lock is refused
// naming the owner; a released lock can be taken again; a stale lock (the
// owner's process is gone, or its heartbeat is old) is taken over with a
// message.
func TestLockDir(t *testing.T) {
	ctx := context.Background()
	defer storage.SetLockSettle(10 * time.Millisecond)()
	fakecloud.StartGCS(t, "locks")
	fakecloud.StartS3(t, "locks")
	host, _ := os.Hostname()
	for _, root := range []string{t.TempDir(), "memfs://locks", "gs://locks", "s3://locks"} {
		name := storage.Scheme(root)
		if name == "" {
			name = "local"
		}
		t.Run(name, func(t *testing.T) {
			dir := storage.Join(root, "out")
			first, err := storage.LockDir(ctx, dir, storage.LockOptions{Command: "winnow transform"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = storage.LockDir(ctx, dir, storage.LockOptions{Command: "winnow balance"})
			var locked *storage.LockedError
			if !errors.As(err, &locked) {
				t.Fatalf("second lock: %v, want a LockedError", err)
			}
			if locked.Owner.PID != os.Getpid() || !strings.Contains(err.Error(), "winnow transform (pid ") {
				t.Errorf("the refusal does not name the owner: %v", err)
			}
			if err := first.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if ok, _ := storage.Exists(ctx, storage.Join(dir, storage.LockName)); ok {
				t.Error("Release left the lock file")
			}

			stale := []storage.LockOwner{
				{Command: "winnow import", Host: host, PID: deadPID(t), Start: time.Now(), Heartbeat: time.Now(), Token: "dead"},
				{Command: "winnow import", Host: "elsewhere", PID: 1, Start: time.Now().Add(-time.Hour), Heartbeat: time.Now().Add(-time.Hour), Token: "old"},
			}
			for _, o := range stale {
				writeLock(t, dir, o)
				var log bytes.Buffer
				l, err := storage.LockDir(ctx, dir, storage.LockOptions{Log: &log})
				if err != nil {
					t.Fatalf("stale lock %+v not taken over: %v", o, err)
				}
				if !strings.Contains(log.String(), "taking over the lock") {
					t.Errorf("no message on taking over %+v: %q", o, log.String())
				}
				if err := l.Release(ctx); err != nil {
					t.Fatal(err)
				}
			}
			// A live owner on another host, heartbeat fresh: refused.
			writeLock(t, dir, storage.LockOwner{Host: "elsewhere", PID: 1, Start: time.Now(), Heartbeat: time.Now(), Token: "live"})
			if _, err := storage.LockDir(ctx, dir, storage.LockOptions{}); !errors.As(err, &locked) || locked.Owner.Host != "elsewhere" {
				t.Errorf("a live lock on another host: %v", err)
			}
		})
	}
}

// A heartbeat that finds its lock taken over reports it.
func TestLockHeartbeatNoticesATakeover(t *testing.T) {
	ctx := context.Background()
	defer func(d time.Duration) { storage.HeartbeatInterval = d }(storage.HeartbeatInterval)
	storage.HeartbeatInterval = 20 * time.Millisecond
	dir := t.TempDir()
	lost := make(chan error, 1)
	l, err := storage.LockDir(ctx, dir, storage.LockOptions{Lost: func(err error) { lost <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	writeLock(t, dir, storage.LockOwner{Command: "winnow sample", Host: "elsewhere", PID: 7, Start: time.Now(), Heartbeat: time.Now(), Token: "thief"})
	select {
	case err := <-lost:
		if !strings.Contains(err.Error(), "winnow sample") {
			t.Errorf("lost: %v, want the new owner named", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the heartbeat did not notice the takeover")
	}
}

// A directory the lock created is removed again when the run left nothing
// in it (a run that failed before writing); one that existed stays.
func TestReleaseRemovesTheDirectoryItCreated(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	dir := filepath.Join(root, "work", "out")
	l, err := storage.LockDir(ctx, dir, storage.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "work")); !os.IsNotExist(err) {
		t.Errorf("work/ left behind: %v", err)
	}
	l, err = storage.LockDir(ctx, dir, storage.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kept.jsonl"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "kept.jsonl")); err != nil {
		t.Errorf("an output was removed: %v", err)
	}
}
