package dataset

import (
	"context"
	"io"

	"github.com/winnowlabs/winnow/transforms/storage"
)

// Claim is a run's hold on its output directory (see ClaimOutput).
type Claim struct {
	dir    string
	lock   *storage.Lock
	cancel context.CancelCauseFunc
}

// ClaimOutput readies dir to receive a run's output: it refuses a dir that
// is one of the inputs, lies inside one or contains one (storage.CheckApart),
// takes dir's lock, so that no other run writes it at the same time
// (storage.LockDir; a stale lock is taken over with a message on log), and
// removes the temporary files that killed runs left there. The returned
// context is cancelled should another run take the lock over; the run
// works under it and calls Release when done.
func ClaimOutput(ctx context.Context, dir string, inputs []string, command string, log io.Writer) (context.Context, *Claim, error) {
	dir = storage.Clean(dir)
	if err := storage.CheckApart(ctx, dir, inputs); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	lock, err := storage.LockDir(ctx, dir, storage.LockOptions{Command: "winnow " + command, Log: log, Lost: cancel})
	if err != nil {
		cancel(err)
		return nil, nil, err
	}
	c := &Claim{dir: dir, lock: lock, cancel: cancel}
	if err := CleanTemporaries(ctx, dir); err != nil {
		c.Release(ctx, true)
		return nil, nil, err
	}
	return ctx, c, nil
}

// Release gives the directory back. After a failed run it first removes
// the run's temporary files, which shard writers that were still busy when
// the run failed may have left; a directory the claim created and the run
// left empty is removed.
func (c *Claim) Release(ctx context.Context, failed bool) {
	ctx = context.WithoutCancel(ctx)
	if failed {
		_ = CleanTemporaries(ctx, c.dir)
	}
	_ = c.lock.Release(ctx)
	c.cancel(nil)
}
