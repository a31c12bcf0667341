package hfhub

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/winnowlabs/winnow/transforms/progress"
)

// transfer counts a download's progress for its progress line.
type transfer struct {
	label   string
	total   atomic.Int64 // bytes of the files to fetch
	done    atomic.Int64 // of which present: received, resumed or found
	fetched atomic.Int64 // bytes received from the network
	files   atomic.Int64 // files downloaded
	count   int64
}

func newTransfer(repo Repo, files []File) *transfer {
	t := &transfer{label: "hub " + repo.String(), count: int64(len(files))}
	for _, f := range files {
		t.total.Add(f.Size)
	}
	return t
}

// resize corrects the total when the download's size differs from the
// listed one (a listing without sizes).
func (t *transfer) resize(listed, actual int64) { t.total.Add(actual - listed) }

// add counts bytes present without a transfer (resumed, found, or taken
// back when a file is discarded).
func (t *transfer) add(n int64) { t.done.Add(n) }

// received counts bytes from the network.
func (t *transfer) received(n int64) {
	t.done.Add(n)
	t.fetched.Add(n)
}

func (t *transfer) line(elapsed time.Duration) string {
	done, total, fetched := t.done.Load(), t.total.Load(), t.fetched.Load()
	secs := max(elapsed.Seconds(), 1e-9)
	rate := float64(fetched) / secs
	s := fmt.Sprintf("%s: %s/%s, %d/%d files, %s/s", t.label, progress.Bytes(done), progress.Bytes(total),
		t.files.Load(), t.count, progress.Bytes(int64(rate)))
	if rate > 0 && total > done {
		s += ", ETA " + time.Duration(float64(total-done)/rate*float64(time.Second)).Round(time.Second).String()
	}
	return s
}

// show displays the line on c.Progress until the returned function is
// called.
func (t *transfer) show(ctx context.Context, c *Client) (stop func()) {
	if c.Progress == nil {
		return func() {}
	}
	return progress.Show(ctx, c.Progress, c.ProgressInterval, t.line)
}
