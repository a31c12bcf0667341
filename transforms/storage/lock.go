package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// LockName is the file that marks a directory as being written by a run.
// Dataset listings ignore it, as every name starting with "_".
const LockName = "_lock.json"

// Lock timing. A lock whose heartbeat is older than StaleAfter, or whose
// owner ran on this host and has exited, is stale and may be taken over.
// On object stores, which cannot create a file only if it is absent, a
// run writes its lock, waits lockSettle and reads it back: of two runs
// that raced, the one whose lock was overwritten gives way.
var (
	HeartbeatInterval = 15 * time.Second
	StaleAfter        = 2 * time.Minute
	lockSettle        = 2 * time.Second
)

// LockOwner describes the run holding a lock.
type LockOwner struct {
	Command   string    `json:"command,omitempty"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Start     time.Time `json:"start"`
	Heartbeat time.Time `json:"heartbeat"`
	Token     string    `json:"token"`
}

func (o LockOwner) String() string {
	cmd := o.Command
	if cmd == "" {
		cmd = "a run"
	}
	return fmt.Sprintf("%s (pid %d on %s, started %s, last heartbeat %s)",
		cmd, o.PID, o.Host, o.Start.Local().Format(time.DateTime), o.Heartbeat.Local().Format(time.DateTime))
}

// stale says why the owner's lock no longer holds, or "" when it does.
func (o LockOwner) stale(now time.Time) string {
	if host, _ := os.Hostname(); o.Host == host && o.PID > 0 && !processAlive(o.PID) {
		return "its process no longer runs"
	}
	if age := now.Sub(o.Heartbeat); age > StaleAfter {
		return fmt.Sprintf("its last heartbeat is %s old", age.Round(time.Second))
	}
	return ""
}

// processAlive reports whether a process with this id runs on this host.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// LockedError is returned when another live run holds a directory's lock.
type LockedError struct {
	Dir   string
	Owner LockOwner
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s is being written by another run: %s; wait for it to finish (or, if it is gone, remove %s)",
		e.Dir, e.Owner, Join(e.Dir, LockName))
}

// LockOptions configure LockDir.
type LockOptions struct {
	// Command names the run in the lock, for the messages of others.
	Command string
	// Log receives the message of a stale lock being taken over (nil:
	// discarded).
	Log io.Writer
	// Lost is called, once, when the heartbeat finds that another run took
	// the lock over (after this run stalled longer than StaleAfter).
	Lost func(error)
}

// Lock is a directory lock held by this process.
type Lock struct {
	dir, path string
	owner     LockOwner
	// created is the topmost directory LockDir created (local paths), so
	// that a run which wrote nothing leaves nothing behind.
	created string
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
}

// LockDir takes the lock of dir, creating a local dir: it refuses, with a
// LockedError naming the owner, while another live run holds it, and takes
// a stale lock over, saying so on o.Log. A heartbeat keeps the lock fresh
// until Release.
func LockDir(ctx context.Context, dir string, o LockOptions) (*Lock, error) {
	dir = Clean(dir)
	host, _ := os.Hostname()
	now := time.Now().UTC().Truncate(time.Second)
	l := &Lock{dir: dir, path: Join(dir, LockName), stop: make(chan struct{}), owner: LockOwner{
		Command: o.Command, Host: host, PID: os.Getpid(), Start: now, Heartbeat: now, Token: newToken(),
	}}
	if IsLocal(dir) {
		created, err := mkdirAll(dir)
		if err != nil {
			return nil, err
		}
		l.created = created
	}
	if err := l.acquire(ctx, o.Log); err != nil {
		l.removeCreated(ctx)
		return nil, err
	}
	l.wg.Add(1)
	go l.heartbeat(ctx, o.Lost)
	return l, nil
}

func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// mkdirAll creates dir and returns the topmost directory it created ("" when
// dir existed).
func mkdirAll(dir string) (string, error) {
	top := ""
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		top = d
		if d == filepath.Dir(d) {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	return top, nil
}

func (l *Lock) acquire(ctx context.Context, log io.Writer) error {
	for attempt := 0; ; attempt++ {
		held, ok, err := l.read(ctx)
		if err != nil {
			return err
		}
		if ok {
			why := held.stale(time.Now())
			if why == "" || attempt > 0 {
				return &LockedError{Dir: l.dir, Owner: held}
			}
			if log != nil {
				fmt.Fprintf(log, "taking over the lock of %s from %s: %s\n", l.dir, held, why)
			}
			if err := RemoveIfExists(ctx, l.path); err != nil {
				return err
			}
		}
		created, err := l.create(ctx)
		if err != nil {
			return err
		}
		if !created {
			continue // another run was faster: report it
		}
		if IsLocal(l.dir) {
			return nil
		}
		// Object stores: whoever wrote last holds the lock. memfs lives in
		// this process, where a write is seen at once.
		if Scheme(l.dir) != "memfs" {
			select {
			case <-time.After(lockSettle):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		now, ok, err := l.read(ctx)
		if err != nil {
			return err
		}
		if ok && now.Token != l.owner.Token {
			return &LockedError{Dir: l.dir, Owner: now}
		}
		if !ok {
			return fmt.Errorf("lock %s: the lock file vanished while it was taken", l.path)
		}
		return nil
	}
}

// read returns the lock's current owner; ok is false when there is none.
// A lock file that cannot be parsed (one being written) belongs to an
// unknown owner, stale once the file is older than StaleAfter.
func (l *Lock) read(ctx context.Context) (LockOwner, bool, error) {
	b, ok, err := ReadFileIfExists(ctx, l.path)
	if err != nil || !ok {
		return LockOwner{}, false, err
	}
	var o LockOwner
	if json.Unmarshal(b, &o) != nil {
		o = LockOwner{Command: "an unknown run", Heartbeat: time.Now()}
		if st, err := os.Stat(l.path); err == nil {
			o.Heartbeat = st.ModTime()
		}
	}
	return o, true, nil
}

// create writes the lock file: locally only when it does not exist
// (created is false when another run's appeared first); on object stores
// unconditionally. Locally the owner is written to a temporary file first
// and linked into place, so the lock file appears with its owner in it: a
// run killed while taking the lock leaves no lock of an unknown owner
// (which would hold until it went stale), only a temporary file that the
// next run removes.
func (l *Lock) create(ctx context.Context) (created bool, err error) {
	b, err := l.encode()
	if err != nil {
		return false, err
	}
	if !IsLocal(l.path) {
		return true, writeObject(ctx, l.path, b)
	}
	tmp := TempName(l.path)
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		_ = os.Remove(tmp)
		return false, fmt.Errorf("lock %s: %w", l.dir, err)
	}
	defer os.Remove(tmp)
	err = os.Link(tmp, l.path)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		// A file system without hard links: create the file exclusively
		// and write the owner into it.
		return l.createInPlace(b)
	}
	return true, nil
}

func (l *Lock) createInPlace(b []byte) (created bool, err error) {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lock %s: %w", l.dir, err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(l.path)
		return false, fmt.Errorf("lock %s: %w", l.dir, err)
	}
	return true, nil
}

func (l *Lock) encode() ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, err := json.MarshalIndent(l.owner, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode lock: %w", err)
	}
	return append(b, '\n'), nil
}

// writeObject writes data to p in one upload (object stores commit an
// object whole when it is closed).
func writeObject(ctx context.Context, p string, data []byte) error {
	w, err := Create(ctx, p)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// heartbeat refreshes the lock until Release, and reports a lock that
// another run took over.
func (l *Lock) heartbeat(ctx context.Context, lost func(error)) {
	defer l.wg.Done()
	ctx = context.WithoutCancel(ctx)
	t := time.NewTicker(HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		held, ok, err := l.read(ctx)
		if err != nil {
			continue // a transient failure; the next beat retries
		}
		if !ok || held.Token != l.owner.Token {
			if lost != nil {
				owner := "it was removed"
				if ok {
					owner = "it is held by " + held.String()
				}
				lost(fmt.Errorf("this run lost the lock of %s: %s", l.dir, owner))
			}
			return
		}
		l.mu.Lock()
		l.owner.Heartbeat = time.Now().UTC().Truncate(time.Second)
		l.mu.Unlock()
		b, err := l.encode()
		if err != nil {
			continue
		}
		if IsLocal(l.path) {
			_ = WriteFile(ctx, l.path, b)
		} else {
			_ = writeObject(ctx, l.path, b)
		}
	}
}

// Release stops the heartbeat and removes the lock, if this run still
// holds it. A local directory that LockDir created and in which the run
// left no file is removed again.
func (l *Lock) Release(ctx context.Context) error {
	close(l.stop)
	l.wg.Wait()
	ctx = context.WithoutCancel(ctx)
	held, ok, err := l.read(ctx)
	if err == nil && ok && held.Token == l.owner.Token {
		err = Remove(ctx, l.path)
	}
	l.removeCreated(ctx)
	return err
}

// removeCreated removes the directory LockDir created when no file is
// below it.
func (l *Lock) removeCreated(ctx context.Context) {
	if l.created == "" {
		return
	}
	if files, err := ListTree(ctx, l.created); err == nil && len(files) == 0 {
		_ = os.RemoveAll(l.created)
	}
}
