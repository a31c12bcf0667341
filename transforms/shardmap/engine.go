// Package shardmap processes shards: one input shard in, at most one output
// shard out, with record-level work done by plain-Go row operations. The
// Engine runs a process-wide pool of workers over batches of rows, so a
// single shard, or many at once, keep every core busy while output is written
// in input order (outputs are deterministic).
//
// Every output is committed atomically (temporary name, then rename), bad
// rows either fail the shard with file, line and reason or go to an _errors
// sidecar, and a completion marker records what was done, so a re-run skips
// finished shards whose work is unchanged. The Beam DoFns in this package
// wrap the Engine; the Engine itself knows nothing of Beam.
package shardmap

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/winnowlabs/winnow/internal/version"
	"github.com/winnowlabs/winnow/transforms/progress"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardio"
	"github.com/winnowlabs/winnow/transforms/storage"
	"github.com/winnowlabs/winnow/transforms/summary"
)

// Task is one input shard and where its results go.
type Task struct {
	Input     string `json:"input"`
	InputSize int64  `json:"input_size"`
	// Rel is the input's path relative to its dataset root; seeds derive
	// from it, so moving a dataset does not change what is sampled.
	Rel string `json:"rel,omitempty"`
	// Split is the dataset split the shard belongs to ("" for a flat corpus).
	Split string `json:"split,omitempty"`
	// Output is the output shard's path; empty for tasks that only observe.
	Output string `json:"output,omitempty"`
	// Errors is where skipped bad rows go (a .jsonl file).
	Errors string `json:"errors,omitempty"`
	// Rejected, when set, receives the rows that ops or the selector
	// dropped (e.g. a filter's rejected documents), as read.
	Rejected string `json:"rejected,omitempty"`
	// Marker is the completion marker's path; empty disables resume.
	Marker string `json:"marker,omitempty"`
	// Global, when set, is the file holding the step's run-wide data
	// (see AttachGlobal).
	Global string `json:"global,omitempty"`
	// Part, when set, says which half of the run's counts the task holds,
	// when every row passes through two tasks (a keep-fraction filter
	// scores into intermediate shards, then selects from them): PartRead
	// or PartWritten.
	Part string `json:"part,omitempty"`
}

// Parts of a run's counts (Task.Part).
const (
	// PartRead counts the rows and bytes read and the bad rows.
	PartRead = "read"
	// PartWritten counts the rows and bytes written and the shard.
	PartWritten = "written"
)

// Result reports a finished task; it is also its completion marker.
type Result struct {
	Task
	RowsIn  int64 `json:"rows_in"`
	RowsOut int64 `json:"rows_out"`
	BadRows int64 `json:"bad_rows"`
	// Rejected counts rows written to Task.Rejected (whose JSON name,
	// "rejected", holds the path).
	Rejected int64 `json:"rows_rejected,omitempty"`
	BytesIn  int64 `json:"bytes_in"`  // uncompressed input rows, newlines included
	BytesOut int64 `json:"bytes_out"` // uncompressed output rows, newlines included
	// Fingerprint identifies the work done; a marker only counts as done
	// when it matches the current run's.
	Fingerprint string `json:"fingerprint"`
	CodeVersion string `json:"code_version"`
	// Measured and TextLengths hold what a measuring selector learned.
	Measured    *summary.Task   `json:"measured,omitempty"`
	TextLengths *summary.Sketch `json:"text_lengths,omitempty"`
	// Extra holds step-specific facts about the task (e.g. an annotation
	// step's cost ledger); the manifest keeps it with the output.
	Extra json.RawMessage `json:"extra,omitempty"`
	// Resumed is true when the task was already complete and was skipped.
	Resumed bool `json:"-"`
}

// Key is what a Selector learns about one row in its first pass.
type Key struct {
	Label   string
	Size    int
	TextLen int
}

// A Selector decides which rows of a shard to keep after seeing all of them
// (exact-count sampling and balancing need the whole shard first), or just
// observes rows (statistics).
type Selector interface {
	// Key extracts what the selector needs from a row. It runs on many
	// goroutines at once.
	Key(r *rows.Row) (Key, error)
	// Observe receives row i's key, in input order, on one goroutine.
	Observe(i int64, k Key)
	// Finish returns which rows to keep; nil keeps all.
	Finish() (keep func(i int64) bool, err error)
}

// A TaskReporter is an operation that gathers facts about the rows of each
// task, such as a histogram of the scores it gives them. The engine calls
// StartTask before a task's rows go through the operations and EndTask
// once they all did; the rows of the task are those whose Source is input.
// What EndTask returns for a task that succeeds becomes its Result.Extra,
// which the completion marker keeps, so a resumed task reports it too. At
// most one operation of a Work reports.
type TaskReporter interface {
	StartTask(input string)
	EndTask(input string) (json.RawMessage, error)
}

// startTask starts the task reading input on the operations that report
// on tasks, and returns what ends it: the report of the task's rows, nil
// when no operation reports.
func startTask(ops []rows.Op, input string) func() (json.RawMessage, error) {
	var reporters []TaskReporter
	for _, op := range ops {
		if r, ok := op.(TaskReporter); ok {
			reporters = append(reporters, r)
			r.StartTask(input)
		}
	}
	return func() (json.RawMessage, error) {
		var extra json.RawMessage
		var err error
		for _, r := range reporters {
			b, e := r.EndTask(input)
			switch {
			case e != nil && err == nil:
				err = fmt.Errorf("%s: %w", input, e)
			case b != nil && extra != nil && err == nil:
				err = fmt.Errorf("%s: two operations report on the task", input)
			case b != nil:
				extra = b
			}
		}
		return extra, err
	}
}

// Work is what to do with each task.
type Work struct {
	Ops []rows.Op
	// NewSelector, when set, makes a Selector per task: rows are read twice,
	// once for the selector and once to write the kept ones.
	NewSelector func(Task) (Selector, error)
	// Fingerprint identifies this work (operations, options, global inputs).
	Fingerprint string
}

// Policy says what happens to bad rows.
type Policy struct {
	// SkipBad sends bad rows to the task's Errors file instead of failing.
	SkipBad bool
	// MaxBad fails the run once more than MaxBad rows were skipped in this
	// process (0: no limit).
	MaxBad int64
}

// Engine runs tasks on a shared pool of row workers.
type Engine struct {
	workers int
	jobs    chan func()
	bad     atomic.Int64
	// shards bounds the tasks in flight in the process to workers, however
	// many bundles the runner runs at once: each task decompresses and
	// compresses on goroutines of its own, and more tasks than cores only
	// multiply the codecs' buffers and evict one another's from the caches.
	shards chan struct{}
	// batches bounds the batches read and not yet written, over all the
	// tasks in flight: enough to keep every worker busy, and no more, for
	// each holds a megabyte or two the process would otherwise have to
	// touch afresh.
	batches chan struct{}
}

var (
	sharedMu  sync.Mutex
	sharedEng *Engine
)

// Shared returns the process-wide engine, creating it with the given number
// of workers (≤0: GOMAXPROCS) on first use.
func Shared(workers int) *Engine {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedEng == nil {
		sharedEng = NewEngine(workers)
	}
	return sharedEng
}

// NewEngine starts an engine with the given number of row workers
// (≤0: GOMAXPROCS). Its goroutines live as long as the process.
func NewEngine(workers int) *Engine {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	e := &Engine{workers: workers, jobs: make(chan func()), shards: make(chan struct{}, workers),
		batches: make(chan struct{}, 2*workers+2)}
	for i := 0; i < workers; i++ {
		go func() {
			for job := range e.jobs {
				job()
			}
		}()
	}
	return e
}

// Workers returns the pool size.
func (e *Engine) Workers() int { return e.workers }

// Batches of rows handed to workers.
const (
	batchRows  = 1024
	batchBytes = 1 << 20
)

type rowOutcome struct {
	out []byte // encoded row to write; nil when dropped or bad
	bad error  // a BadRowError
	key Key
}

type batch struct {
	seq int
	// arena holds the batch's lines, encoded the text of the rows whose
	// objects were replaced (taken when the first one is); both are
	// recycled once the rows are written.
	arena   *[]byte
	encoded lazyArena
	lines   [][]byte
	lineNos []int64
	results []rowOutcome
	fatal   error
}

// Run processes one task.
func (e *Engine) Run(ctx context.Context, task Task, work Work, policy Policy) (Result, error) {
	res := Result{Task: task, Fingerprint: work.Fingerprint, CodeVersion: version.String()}
	if done, ok, err := Completed(ctx, task, work.Fingerprint); err != nil {
		return res, err
	} else if ok {
		done.Resumed = true
		progress.Global.BytesIn.Add(task.InputSize)
		progress.Global.Shards.Add(1)
		return done, nil
	}

	var keep func(int64) bool
	passOneBad := map[int64]error{}
	if work.NewSelector != nil {
		sel, err := work.NewSelector(task)
		if err != nil {
			return res, fmt.Errorf("%s: %w", task.Input, err)
		}
		err = e.scan(ctx, task, perRow(func(r *rows.Row) rowOutcome {
			k, err := sel.Key(r)
			return rowOutcome{key: k, bad: err}
		}), func(i int64, line int64, raw []byte, o rowOutcome) error {
			if o.bad != nil {
				if !policy.SkipBad {
					return fmt.Errorf("%s:%d: %w", task.Input, line, o.bad)
				}
				passOneBad[i] = o.bad
				return nil
			}
			sel.Observe(i, o.key)
			return nil
		})
		if err != nil {
			return res, err
		}
		if keep, err = sel.Finish(); err != nil {
			return res, fmt.Errorf("%s: %w", task.Input, err)
		}
		if m, ok := sel.(Measurer); ok {
			t, lengths := m.Measured()
			t.Bad = int64(len(passOneBad))
			res.Measured, res.TextLengths = &t, lengths
		}
		if task.Output == "" {
			res.BadRows = int64(len(passOneBad))
			if res.Measured != nil {
				res.RowsIn = res.Measured.Rows + res.BadRows
				res.BytesIn = res.Measured.Bytes
			}
			progress.Global.Shards.Add(1)
			return res, nil
		}
	}

	out, err := shardio.Create(ctx, task.Output)
	if err != nil {
		return res, err
	}
	defer out.Abort()
	var rejected *shardio.Writer
	if task.Rejected != "" {
		if rejected, err = shardio.Create(ctx, task.Rejected); err != nil {
			return res, err
		}
		defer rejected.Abort()
	}
	var errs *ErrorSink
	if task.Errors != "" {
		errs = NewErrorSink(ctx, task)
		defer errs.Abort()
	}

	bad := e.badRows(task, policy, errs, &res)
	endTask := startTask(work.Ops, task.Input)
	err = e.scan(ctx, task, func(rs []*rows.Row, out []rowOutcome, encoded *lazyArena) {
		process(rs, work.Ops, out, encoded)
	}, func(i int64, line int64, raw []byte, o rowOutcome) error {
		res.RowsIn++
		res.BytesIn += int64(len(raw)) + 1
		if pb, ok := passOneBad[i]; ok {
			return bad(line, raw, pb)
		}
		if keep != nil && !keep(i) {
			return reject(rejected, raw)
		}
		if o.bad != nil {
			return bad(line, raw, o.bad)
		}
		if o.out == nil {
			return reject(rejected, raw)
		}
		res.RowsOut++
		progress.Global.RowsOut.Add(1)
		return out.Write(o.out)
	})
	extra, endErr := endTask()
	if err != nil {
		return res, err
	}
	if endErr != nil {
		return res, endErr
	}
	if extra != nil {
		res.Extra = extra
	}
	if err := Commit(ctx, &res, Outputs{Out: out, Rejected: rejected, Errors: errs}); err != nil {
		return res, err
	}
	return res, nil
}

// reject writes a dropped row to the rejected output, when there is one.
func reject(w *shardio.Writer, raw []byte) error {
	if w == nil {
		return nil
	}
	return w.Write(raw)
}

// badRows returns the handler of bad rows for a task: an error naming file
// and line, or, when skipping, a record in the errors sidecar.
func (e *Engine) badRows(task Task, policy Policy, errs *ErrorSink, res *Result) func(line int64, raw []byte, reason error) error {
	return func(line int64, raw []byte, reason error) error {
		if !policy.SkipBad || errs == nil {
			return fmt.Errorf("%s:%d: %w", task.Input, line, reason)
		}
		res.BadRows++
		progress.Global.BadRows.Add(1)
		if n := e.bad.Add(1); policy.MaxBad > 0 && n > policy.MaxBad {
			return fmt.Errorf("more than %d bad rows (the bad-row limit); the last: %s:%d: %v", policy.MaxBad, task.Input, line, reason)
		}
		return errs.Write(line, raw, reason)
	}
}

// ForEach reads task's input on the worker pool, validating every row, and
// calls fn in input order with each good row's index (counting good rows
// only) and text, which fn must copy to keep. Bad rows fail the task or,
// when skipped, go to task.Errors. Output and Marker are ignored.
func (e *Engine) ForEach(ctx context.Context, task Task, policy Policy, fn func(i int64, raw []byte) error) (Result, error) {
	res := Result{Task: task, CodeVersion: version.String()}
	var errs *ErrorSink
	if task.Errors != "" {
		errs = NewErrorSink(ctx, task)
		defer errs.Abort()
	}
	bad := e.badRows(task, policy, errs, &res)
	var good int64
	err := e.scan(ctx, task, perRow(func(r *rows.Row) rowOutcome {
		if err := r.Validate(); err != nil {
			return rowOutcome{bad: err}
		}
		return rowOutcome{}
	}), func(_ int64, line int64, raw []byte, o rowOutcome) error {
		res.RowsIn++
		res.BytesIn += int64(len(raw)) + 1
		if o.bad != nil {
			return bad(line, raw, o.bad)
		}
		good++
		return fn(good-1, raw)
	})
	if err != nil {
		return res, err
	}
	if errs != nil {
		if err := errs.commit(); err != nil {
			return res, err
		}
	}
	progress.Global.Shards.Add(1)
	return res, nil
}

// batchFunc computes the outcome of every row of a batch: out[i] for rs[i].
// Rows it encodes are appended to encoded's buffer.
type batchFunc func(rs []*rows.Row, out []rowOutcome, encoded *lazyArena)

// perRow makes a batchFunc of a function of one row.
func perRow(f func(*rows.Row) rowOutcome) batchFunc {
	return func(rs []*rows.Row, out []rowOutcome, _ *lazyArena) {
		for i, r := range rs {
			out[i] = f(r)
		}
	}
}

// process runs the ops on a batch of rows (batch operations on all of them
// at once) and encodes what is kept at the end of encoded's buffer.
func process(rs []*rows.Row, ops []rows.Op, out []rowOutcome, encoded *lazyArena) {
	if !rows.AnyBatch(ops) {
		// Row by row: each row's decoded object is encoded while it is
		// still in the cache, and is garbage once it is, so a batch never
		// holds more than one decoded row per worker.
		for i, r := range rs {
			keep, err := rows.Chain(r, ops)
			out[i] = outcome(r, keep, err, encoded)
			rs[i] = nil
		}
		return
	}
	keep := make([]bool, len(rs))
	errs := make([]error, len(rs))
	rows.ChainBatch(rs, ops, keep, errs)
	for i, r := range rs {
		out[i] = outcome(r, keep[i], errs[i], encoded)
	}
}

// outcome encodes what a row's operations left of it, at the end of
// encoded's buffer when its object was replaced.
func outcome(r *rows.Row, keep bool, err error, encoded *lazyArena) rowOutcome {
	if err != nil {
		return rowOutcome{bad: err}
	}
	if !keep {
		// A dropped row must still have been a valid row.
		if err := r.Validate(); err != nil {
			return rowOutcome{bad: err}
		}
		return rowOutcome{}
	}
	if err := r.Validate(); err != nil {
		return rowOutcome{bad: err}
	}
	var buf *[]byte
	if r.NeedsEncoding() {
		buf = encoded.get()
	}
	b, err := r.EncodeInto(buf)
	if err != nil {
		return rowOutcome{bad: err}
	}
	return rowOutcome{out: b}
}

// Completed returns the task's completion marker when the task is already
// done with the same work (fingerprint, input path and size, rejected-rows
// path) and its outputs exist. DoFns that do not run on the Engine use it to
// resume.
func Completed(ctx context.Context, task Task, fingerprint string) (Result, bool, error) {
	if task.Marker == "" {
		return Result{}, false, nil
	}
	b, ok, err := storage.ReadFileIfExists(ctx, task.Marker)
	if err != nil || !ok {
		return Result{}, false, err
	}
	var done Result
	if json.Unmarshal(b, &done) != nil || done.Fingerprint != fingerprint || done.Input != task.Input ||
		done.InputSize != task.InputSize || done.Task.Rejected != task.Rejected {
		return Result{}, false, nil
	}
	for _, out := range []string{task.Output, task.Rejected} {
		if out == "" {
			continue
		}
		if ok, err := storage.Exists(ctx, out); err != nil || !ok {
			return Result{}, false, err
		}
	}
	return done, true, nil
}

// scan reads the task's input in batches, runs each row through fn on the
// worker pool and hands the outcomes to sink in input order.
func (e *Engine) scan(ctx context.Context, task Task, fn batchFunc, sink func(i, line int64, raw []byte, o rowOutcome) error) error {
	ctx, cancel := context.WithCancel(ctx)
	rd, err := shardio.Open(ctx, task.Input)
	if err != nil {
		cancel()
		return err
	}

	// The done channel can hold every batch that may be in flight, so
	// workers never block on a consumer that stopped early.
	done := make(chan *batch, cap(e.batches))
	type readResult struct {
		batches int
		err     error
	}
	readDone := make(chan readResult, 1)
	go func() {
		n, err := e.read(ctx, rd, task.Input, fn, done)
		readDone <- readResult{n, err}
	}()
	// released counts the batches whose place among those in flight was
	// given back; total is how many the reader submitted, once known.
	released, total := 0, -1
	// On every return the reader goroutine is stopped and waited for before
	// the reader is closed: a closed reader's decompressor goes back to a
	// pool, and another shard must not share it with a goroutine still
	// reading. The places of batches submitted and not written are given
	// back: the engine outlives a failed task.
	defer func() {
		cancel()
		if readDone != nil {
			total = (<-readDone).batches
		}
		rd.Close()
		for ; released < total; released++ {
			<-e.batches
		}
	}()

	pending := map[int]*batch{}
	next := 0
	var index int64
	for total < 0 || next < total {
		select {
		case r := <-readDone:
			readDone = nil // received: nothing to wait for on return
			total = r.batches
			if r.err != nil {
				return r.err
			}
			continue
		case <-ctx.Done():
			return ctx.Err()
		case b := <-done:
			pending[b.seq] = b
		}
		for b, ok := pending[next]; ok; b, ok = pending[next] {
			delete(pending, next)
			next++
			if b.fatal != nil {
				return b.fatal
			}
			for j, o := range b.results {
				if err := sink(index, b.lineNos[j], b.lines[j], o); err != nil {
					return err
				}
				index++
			}
			releaseArena(b.arena)
			releaseArena(b.encoded.buf)
			<-e.batches
			released++
		}
	}
	return nil
}

// read splits the input into batches and submits them to the pool, each
// once it has a place among the engine's batches in flight; it returns how
// many batches it submitted.
func (e *Engine) read(ctx context.Context, rd *shardio.Reader, source string, fn batchFunc, done chan *batch) (int, error) {
	seq := 0
	var lastBytes int64
	submit := func(b *batch) error {
		select {
		case e.batches <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		b.seq = seq
		job := func() {
			b.results = make([]rowOutcome, len(b.lines))
			if b.fatal = ctx.Err(); b.fatal == nil {
				rs := make([]*rows.Row, len(b.lines))
				for i, line := range b.lines {
					rs[i] = rows.New(line, source, b.lineNos[i])
				}
				fn(rs, b.results, &b.encoded)
				b.fatal = ctx.Err()
			}
			done <- b
		}
		select {
		case e.jobs <- job:
			seq++
		case <-ctx.Done():
			<-e.batches
			return ctx.Err()
		}
		now := rd.BytesRead()
		progress.Global.BytesIn.Add(now - lastBytes)
		progress.Global.Rows.Add(int64(len(b.lines)))
		lastBytes = now
		return nil
	}
	b := &batch{arena: getArena()}
	for {
		if err := ctx.Err(); err != nil {
			return seq, err
		}
		line, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return seq, err
		}
		arena := b.arena
		start := len(*arena)
		*arena = append(*arena, line...)
		b.lines = append(b.lines, (*arena)[start:len(*arena):len(*arena)])
		b.lineNos = append(b.lineNos, rd.Line())
		if len(b.lines) >= batchRows || len(*arena) >= batchBytes {
			if err := submit(b); err != nil {
				return seq, err
			}
			b = &batch{arena: getArena()}
		}
	}
	if len(b.lines) > 0 {
		if err := submit(b); err != nil {
			return seq, err
		}
	}
	return seq, nil
}

// arenas recycles the buffers holding batches' lines and encoded rows,
// saving the allocation, zeroing and collection of a megabyte per batch.
var arenas = sync.Pool{New: func() any {
	b := make([]byte, 0, batchBytes+batchBytes/4)
	return &b
}}

func getArena() *[]byte { return arenas.Get().(*[]byte) }

// lazyArena is a batch's arena for the rows it encodes anew, taken from
// the pool when the first such row needs it: batches whose rows are all
// written as read (filters, selectors, validation) never take one.
type lazyArena struct{ buf *[]byte }

func (a *lazyArena) get() *[]byte {
	if a.buf == nil {
		a.buf = getArena()
	}
	return a.buf
}

// releaseArena returns a batch's arena once its lines are written (sinks
// copy what they keep). Arenas grown by a huge line are left to the
// collector.
func releaseArena(a *[]byte) {
	if a == nil || cap(*a) > 4*batchBytes {
		return
	}
	*a = (*a)[:0]
	arenas.Put(a)
}
