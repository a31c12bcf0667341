// Package progress tracks a run's throughput (rows, bytes, shards) and shows
// it: a live line with rate and ETA on a terminal, a log line at intervals
// otherwise. Shard processing code updates the process-wide Global tracker;
// on a distributed runner each worker process has its own, and only the
// local runner's is shown.
package progress

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// Tracker counts work done against the known total.
type Tracker struct {
	Rows       atomic.Int64 // rows read
	RowsOut    atomic.Int64 // rows written
	BadRows    atomic.Int64
	BytesIn    atomic.Int64 // input bytes consumed, as stored (compressed)
	Shards     atomic.Int64 // shards finished
	TotalBytes atomic.Int64 // input bytes to consume, as stored
	TotalShard atomic.Int64
	// Extra, when set, adds text to the progress line (e.g. cost so far).
	extra atomic.Pointer[func() string]
}

// Global is the tracker of this process.
var Global = &Tracker{}

// Reset zeroes the counters and sets the totals.
func (t *Tracker) Reset(totalBytes, totalShards int64) {
	t.Rows.Store(0)
	t.RowsOut.Store(0)
	t.BadRows.Store(0)
	t.BytesIn.Store(0)
	t.Shards.Store(0)
	t.TotalBytes.Store(totalBytes)
	t.TotalShard.Store(totalShards)
	t.extra.Store(nil)
}

// SetExtra adds f's text to each progress line.
func (t *Tracker) SetExtra(f func() string) { t.extra.Store(&f) }

// Line renders the tracker's state after elapsed time.
func (t *Tracker) Line(label string, elapsed time.Duration) string {
	rows, in, total := t.Rows.Load(), t.BytesIn.Load(), t.TotalBytes.Load()
	secs := elapsed.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	s := fmt.Sprintf("%s: %s rows, %s/%s, shards %d/%d, %s rows/s, %s/s",
		label, Count(rows), Bytes(in), Bytes(total), t.Shards.Load(), t.TotalShard.Load(),
		Count(int64(float64(rows)/secs)), Bytes(int64(float64(in)/secs)))
	if in > 0 && total > in {
		eta := time.Duration(float64(total-in) / (float64(in) / secs) * float64(time.Second))
		s += ", ETA " + eta.Round(time.Second).String()
	}
	if bad := t.BadRows.Load(); bad > 0 {
		s += fmt.Sprintf(", %d bad", bad)
	}
	if f := t.extra.Load(); f != nil {
		s += ", " + (*f)()
	}
	return s
}

// Start shows t's progress on w until the returned stop function is called:
// redrawn every 250ms when w is a terminal, a line every interval otherwise
// (interval 0 means 30s).
func (t *Tracker) Start(ctx context.Context, w io.Writer, label string, interval time.Duration) (stop func()) {
	return Show(ctx, w, interval, func(elapsed time.Duration) string { return t.Line(label, elapsed) })
}

// Show writes line(elapsed) to w until the returned stop function is called:
// redrawn in place every 250ms when w is a terminal, as a new line every
// interval otherwise (interval 0 means 30s).
func Show(ctx context.Context, w io.Writer, interval time.Duration, line func(elapsed time.Duration) string) (stop func()) {
	tty := IsTerminal(w)
	if interval == 0 {
		interval = 30 * time.Second
	}
	if tty {
		interval = 250 * time.Millisecond
	}
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				if tty {
					fmt.Fprintf(w, "\r\033[K")
				}
				return
			case <-tick.C:
				l := line(time.Since(start))
				if tty {
					fmt.Fprintf(w, "\r\033[K%s", l)
				} else {
					fmt.Fprintln(w, l)
				}
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// IsTerminal reports whether w is a terminal (where a progress line is
// redrawn in place).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Bytes formats n bytes with a binary unit.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Count formats n with thousands separators.
func Count(n int64) string {
	s := fmt.Sprint(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
