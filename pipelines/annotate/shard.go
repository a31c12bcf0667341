package annotate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"strconv"
	"sync"

	"github.com/winnowlabs/winnow/internal/version"
	"github.com/winnowlabs/winnow/transforms/llm/annotate"
	"github.com/winnowlabs/winnow/transforms/progress"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardio"
	"github.com/winnowlabs/winnow/transforms/shardmap"
)

// shard is one shard being annotated. Rows are read ahead of the annotator
// (at most window rows not yet written, unbounded in batch mode, whose
// answers come at the end) and written in input order as their results
// arrive.
type shard struct {
	w      *worker
	task   shardmap.Task
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   func() bool
	out    *shardio.Writer
	errs   *shardmap.ErrorSink
	window int64

	// readMu guards the reader: the annotator's goroutine reads rows
	// while the shard's own goroutine may close it (readerClosed).
	readMu       sync.Mutex
	readerClosed bool

	mu       sync.Mutex
	cond     *sync.Cond
	pending  map[int64]*pendingRow
	read     int64 // rows read
	next     int64 // rows written (the index of the next one)
	err      error // the first failure; the shard stops
	res      shardmap.Result
	ledger   Ledger
	answered map[string]bool
	// notAttempted counts rows left for a later run.
	notAttempted int64
	lastBytes    int64
}

// pendingRow is a row read and not yet written.
type pendingRow struct {
	raw  []byte
	line int64
	// offset is the input's bytes (as stored) consumed when the row was
	// read, for progress.
	offset int64
	bad    error
	res    *annotate.Result
}

func (w *worker) newShard(ctx context.Context, task shardmap.Task) (*shard, error) {
	out, err := shardio.Create(ctx, task.Output)
	if err != nil {
		return nil, err
	}
	s := &shard{
		w: w, task: task, out: out,
		errs:     shardmap.NewErrorSink(ctx, task),
		pending:  map[int64]*pendingRow{},
		answered: map[string]bool{},
		res:      shardmap.Result{Task: task, Fingerprint: w.cfg.Fingerprint, CodeVersion: version.String()},
	}
	if !w.cfg.Batch {
		s.window = int64(max(1024, 4*w.client.MaxConcurrency()))
	}
	s.cond = sync.NewCond(&s.mu)
	s.ctx, s.cancel = context.WithCancelCause(ctx)
	// A reader waiting for room in the window wakes when the shard stops.
	s.stop = context.AfterFunc(s.ctx, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	return s, nil
}

func (s *shard) close() {
	s.stop()
	s.cancel(nil)
	s.out.Abort()
	s.errs.Abort()
}

// closeReader closes rd once no row is being read from it; a later read
// finds it closed and ends the rows.
func (s *shard) closeReader(rd *shardio.Reader) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	s.readerClosed = true
	rd.Close()
}

// readRow reads the next row unless the reader was closed (io.EOF then).
func (s *shard) readRow(rd *shardio.Reader) (line []byte, lineNo, offset int64, err error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	if s.readerClosed {
		return nil, 0, 0, io.EOF
	}
	line, err = rd.Next()
	if err != nil {
		return nil, 0, 0, err
	}
	return bytes.Clone(line), rd.Line(), rd.BytesRead(), nil
}

// fail records the shard's first failure and stops it.
func (s *shard) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLocked(err)
}

// failLocked records the shard's first failure and stops it.
func (s *shard) failLocked(err error) {
	if s.err == nil {
		s.err = err
		s.cancel(err)
	}
}

// rows reads the shard and yields the rows to annotate; rows without a text
// are bad rows, failing the shard or written to _errors/ in their turn.
func (s *shard) rows(rd *shardio.Reader) iter.Seq[annotate.Row] {
	return func(yield func(annotate.Row) bool) {
		for {
			line, lineNo, offset, err := s.readRow(rd)
			if err == io.EOF {
				return
			}
			var text string
			p := &pendingRow{raw: line, line: lineNo, offset: offset}
			if err == nil {
				text, p.bad = s.w.textOf(p, s.task.Input)
			}
			i, ok := s.admit(p, err)
			if !ok {
				return
			}
			if p.bad == nil && !yield(annotate.Row{Key: strconv.FormatInt(i, 10), Text: text}) {
				return
			}
		}
	}
}

// admit waits for room in the window and numbers a row read; a bad row
// (skipped) is written in its turn at once. It returns false when the shard
// stops: it failed, or this row fails it.
func (s *shard) admit(p *pendingRow, readErr error) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.window > 0 && s.read-s.next >= s.window && s.err == nil && s.ctx.Err() == nil {
		s.cond.Wait()
	}
	switch {
	case s.err != nil || s.ctx.Err() != nil:
		return 0, false
	case readErr != nil:
		s.failLocked(readErr)
		return 0, false
	case p.bad != nil && !s.w.cfg.Policy.SkipBad:
		s.failLocked(fmt.Errorf("%s:%d: %w", s.task.Input, p.line, p.bad))
		return 0, false
	}
	i := s.read
	s.read++
	s.pending[i] = p
	if p.bad != nil {
		if err := s.flushLocked(); err != nil {
			s.failLocked(err)
			return i, false
		}
	}
	return i, true
}

// textOf returns a row's text, or why it has none.
func (w *worker) textOf(p *pendingRow, source string) (string, error) {
	obj, err := rows.New(p.raw, source, p.line).Object()
	if err != nil {
		return "", err
	}
	text, err := rows.TextOf(w.text, obj)
	if err != nil && !rows.IsBadRow(err) {
		err = rows.BadRowf("%v", err)
	}
	return text, err
}

// emit receives a row's result (on the annotator's calling goroutine) and
// writes what is ready.
func (s *shard) emit(r annotate.Result) {
	i, err := strconv.ParseInt(r.Key, 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending[i]
	if err != nil || p == nil {
		s.failLocked(fmt.Errorf("%s: a result for an unknown row %q", s.task.Input, r.Key))
		return
	}
	p.res = &r
	if s.err == nil {
		if err := s.flushLocked(); err != nil {
			s.failLocked(err)
		}
	}
}

// flushLocked writes the rows whose turn has come.
func (s *shard) flushLocked() error {
	for {
		p, ok := s.pending[s.next]
		if !ok || (p.bad == nil && p.res == nil) {
			return nil
		}
		delete(s.pending, s.next)
		s.next++
		s.cond.Broadcast()
		if err := s.writeLocked(p); err != nil {
			return err
		}
	}
}

// writeLocked writes a row in its turn: annotated to the output, failed or
// bad to _errors/, not attempted nowhere (the shard stays uncommitted).
func (s *shard) writeLocked(p *pendingRow) error {
	s.res.RowsIn++
	s.res.BytesIn += int64(len(p.raw)) + 1
	progress.Global.Rows.Add(1)
	progress.Global.BytesIn.Add(p.offset - s.lastBytes)
	s.lastBytes = p.offset
	if p.bad != nil {
		s.res.BadRows++
		progress.Global.BadRows.Add(1)
		if n := s.w.bad.Add(1); s.w.cfg.Policy.MaxBad > 0 && n > s.w.cfg.Policy.MaxBad {
			return fmt.Errorf("more than %d bad rows (the bad-row limit); the last: %s:%d: %v", s.w.cfg.Policy.MaxBad, s.task.Input, p.line, p.bad)
		}
		return s.errs.WriteRecord(s.errorRecord(p, map[string]any{"status": "bad-row", "reason": p.bad.Error()}))
	}
	r := p.res
	s.ledger.count(r, s.answered)
	switch r.Status {
	case annotate.Annotated:
		row := rows.New(p.raw, s.task.Input, p.line)
		obj, err := row.Object()
		if err != nil {
			return fmt.Errorf("%s:%d: %w", s.task.Input, p.line, err)
		}
		obj[s.w.cfg.OutputField] = r.Annotation()
		row.Set(obj)
		b, err := row.Encode()
		if err != nil {
			return fmt.Errorf("%s:%d: %w", s.task.Input, p.line, err)
		}
		s.res.RowsOut++
		progress.Global.RowsOut.Add(1)
		return s.out.Write(b)
	case annotate.Failed:
		s.res.BadRows++
		progress.Global.BadRows.Add(1)
		return s.errs.WriteRecord(s.errorRecord(p, r.ErrorRecord()))
	default:
		s.notAttempted++
		return nil
	}
}

// errorRecord is a row's record in _errors/: where it came from, the row
// itself, and what went wrong.
func (s *shard) errorRecord(p *pendingRow, what map[string]any) map[string]any {
	delete(what, "key") // the row's index in the shard; the line says more
	return s.errs.RowFields(what, p.line, p.raw)
}

// finish checks that every row was accounted for and commits the shard,
// unless rows were left for a later run.
func (s *shard) finish(out shardOutcome, err error) (shardOutcome, error) {
	s.mu.Lock()
	ferr := s.err
	if ferr == nil && err == nil {
		ferr = s.flushLocked()
	}
	unreported := s.read - s.next
	s.mu.Unlock()
	if ferr != nil {
		return out, ferr
	}
	if err != nil {
		return out, fmt.Errorf("%s: %w", s.task.Input, err)
	}
	if unreported != 0 {
		return out, fmt.Errorf("%s: %d rows were not reported by the annotator", s.task.Input, unreported)
	}
	if s.notAttempted > 0 {
		return out, nil
	}
	ledger, err := json.Marshal(s.ledger)
	if err != nil {
		return out, fmt.Errorf("encode ledger: %w", err)
	}
	s.res.Extra = ledger
	if err := shardmap.Commit(s.ctx, &s.res, shardmap.Outputs{Out: s.out, Errors: s.errs}); err != nil {
		return out, err
	}
	out.Result, out.Committed = s.res, true
	return out, nil
}
