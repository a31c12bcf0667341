package shardmap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/winnowlabs/winnow/transforms/progress"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardio"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// ErrorSink writes a shard's skipped rows, with their reasons, to its
// _errors/ sidecar (Task.Errors). The file is created on the first record
// and committed with the shard (see Commit).
type ErrorSink struct {
	ctx    context.Context
	path   string
	source string
	w      *shardio.Writer
}

// NewErrorSink returns the sink of task's bad rows; it writes nothing until
// a row is skipped.
func NewErrorSink(ctx context.Context, task Task) *ErrorSink {
	return &ErrorSink{ctx: ctx, path: task.Errors, source: task.Input}
}

// errorRecord is a skipped row as the engine records it.
type errorRecord struct {
	Source    string `json:"source"`
	Line      int64  `json:"line"`
	Reason    string `json:"reason"`
	Row       string `json:"row,omitempty"`
	RowBase64 []byte `json:"row_base64,omitempty"`
}

// Write records the bad row raw, read at line, and why it is bad.
func (s *ErrorSink) Write(line int64, raw []byte, reason error) error {
	rec := errorRecord{Source: s.source, Line: line, Reason: reason.Error()}
	var bre *rows.BadRowError
	if errors.As(reason, &bre) {
		rec.Reason = bre.Reason
	}
	if utf8.Valid(raw) {
		rec.Row = string(raw)
	} else {
		rec.RowBase64 = raw
	}
	return s.WriteRecord(rec)
}

// WriteRecord records a row with the step's own account of it: rec is
// written as one JSON line. Steps that say more than a reason (an
// annotation's raw answer and status) build their records with RowFields.
func (s *ErrorSink) WriteRecord(rec any) error {
	if s.w == nil {
		w, err := shardio.Create(s.ctx, s.path)
		if err != nil {
			return err
		}
		s.w = w
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode error record: %w", err)
	}
	return s.w.Write(b)
}

// RowFields adds to rec where the row came from (its source shard and
// line) and the row itself: as text when it is UTF-8, else base64-encoded.
func (s *ErrorSink) RowFields(rec map[string]any, line int64, raw []byte) map[string]any {
	rec["source"] = s.source
	rec["line"] = line
	if utf8.Valid(raw) {
		rec["row"] = string(raw)
	} else {
		rec["row_base64"] = raw
	}
	return rec
}

// commit commits the records, or removes a sidecar an earlier run left when
// there are none this time.
func (s *ErrorSink) commit() error {
	if s.w == nil {
		if ok, _ := storage.Exists(s.ctx, s.path); ok {
			return storage.Remove(s.ctx, s.path)
		}
		return nil
	}
	return s.w.Commit()
}

// Abort drops the records of a shard that is not committed.
func (s *ErrorSink) Abort() {
	if s.w != nil {
		s.w.Abort()
	}
}

// Outputs are the files a shard task writes; Rejected and Errors may be
// nil.
type Outputs struct {
	Out      *shardio.Writer
	Rejected *shardio.Writer
	Errors   *ErrorSink
}

// Commit makes a finished task's outputs visible and marks it done: an
// earlier completion marker goes first (killed between the commits below,
// the shard must not look done with a new output beside old errors), then
// the output, the rejected rows and the bad rows are committed, and the
// marker (res, with the written counts filled in) is written last. Every
// shard step commits through here.
func Commit(ctx context.Context, res *Result, o Outputs) error {
	task := res.Task
	if task.Marker != "" {
		if err := storage.RemoveIfExists(ctx, task.Marker); err != nil {
			return err
		}
	}
	res.BytesOut = o.Out.Bytes()
	if err := o.Out.Commit(); err != nil {
		return err
	}
	if o.Rejected != nil {
		res.Rejected = o.Rejected.Rows()
		if err := o.Rejected.Commit(); err != nil {
			return err
		}
	}
	if o.Errors != nil {
		if err := o.Errors.commit(); err != nil {
			return err
		}
	}
	if task.Marker != "" {
		b, err := json.Marshal(res)
		if err != nil {
			return fmt.Errorf("encode completion marker: %w", err)
		}
		if err := storage.WriteFile(ctx, task.Marker, b); err != nil {
			return err
		}
	}
	progress.Global.Shards.Add(1)
	return nil
}
