package shardio

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/winnowlabs/winnow/transforms/storage"
)

// Writer writes JSON rows to a shard under a temporary name; Commit renames
// it into place, Abort deletes it.
type Writer struct {
	ctx   context.Context
	final string
	tmp   string
	file  io.WriteCloser
	buf   *bufio.Writer
	comp  io.WriteCloser // the compressor, nil for plain JSON Lines
	out   io.Writer      // where rows go
	zenc  *zstd.Encoder
	rows  int64
	bytes int64
	done  bool
}

// Create starts the shard at path; its compression follows the extension
// (.jsonl.zst, .jsonl.gz or .jsonl; .txt, .txt.gz and .txt.zst write text
// lines the same way).
func Create(ctx context.Context, path string) (*Writer, error) {
	kind, ok := Detect(strings.Replace(path, TextExt, ".jsonl", 1))
	if !ok || kind.Format != JSONL {
		return nil, fmt.Errorf("%s: shards are written as .jsonl, .jsonl.gz or .jsonl.zst", path)
	}
	w := &Writer{ctx: ctx, final: path, tmp: storage.TempName(path)}
	f, err := storage.Create(ctx, w.tmp)
	if err != nil {
		return nil, err
	}
	w.file = f
	w.buf = bufio.NewWriterSize(f, 1<<20)
	switch kind.Compression {
	case Gzip:
		gz, _ := gzip.NewWriterLevel(w.buf, gzip.DefaultCompression)
		w.comp, w.out = gz, gz
	case Zstd:
		w.zenc = getZstdWriter()
		w.zenc.Reset(w.buf)
		w.comp, w.out = w.zenc, w.zenc
	default:
		w.out = w.buf
	}
	return w, nil
}

// Path returns the shard's final path.
func (w *Writer) Path() string { return w.final }

// Write appends one row (JSON text without a newline).
func (w *Writer) Write(row []byte) error {
	if _, err := w.out.Write(row); err != nil {
		return w.writeError(err)
	}
	if _, err := w.out.Write(newline); err != nil {
		return w.writeError(err)
	}
	w.rows++
	w.bytes += int64(len(row)) + 1
	return nil
}

var newline = []byte{'\n'}

// writeError names the file a write failed on, unless the error does.
func (w *Writer) writeError(err error) error { return naming("write", w.tmp, err) }

// naming returns err, wrapped with op and path unless it names a file
// already (an *fs.PathError).
func naming(op, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err
	}
	return fmt.Errorf("%s %s: %w", op, path, err)
}

// Rows returns the rows written so far.
func (w *Writer) Rows() int64 { return w.rows }

// Bytes returns the uncompressed bytes written so far, newlines included.
func (w *Writer) Bytes() int64 { return w.bytes }

// Commit completes the shard and moves it to its final path.
func (w *Writer) Commit() error {
	if w.done {
		return fmt.Errorf("%s: already closed", w.final)
	}
	w.done = true
	if err := w.close(); err != nil {
		w.remove()
		return err
	}
	if err := storage.Rename(w.ctx, w.tmp, w.final); err != nil {
		w.remove()
		return fmt.Errorf("commit %s: %w", w.final, err)
	}
	return nil
}

// remove deletes the temporary file, even when the run is being cancelled.
func (w *Writer) remove() { _ = storage.Remove(context.WithoutCancel(w.ctx), w.tmp) }

// Abort discards the shard; it is safe to call after Commit.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	_ = w.close()
	w.remove()
}

func (w *Writer) close() error {
	var first error
	if w.comp != nil {
		if err := w.comp.Close(); err != nil {
			first = naming("finish", w.tmp, err)
		}
	}
	if w.zenc != nil {
		w.zenc.Reset(nil)
		putZstdWriter(w.zenc)
		w.zenc = nil
	}
	if err := w.buf.Flush(); err != nil && first == nil {
		first = naming("flush", w.tmp, err)
	}
	if err := w.file.Close(); err != nil && first == nil {
		first = naming("close", w.tmp, err)
	}
	return first
}

var zstdWriters sync.Pool

func getZstdWriter() *zstd.Encoder {
	if e, ok := zstdWriters.Get().(*zstd.Encoder); ok {
		return e
	}
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		panic(fmt.Sprintf("zstd encoder: %v", err)) // only for invalid options
	}
	return e
}

func putZstdWriter(e *zstd.Encoder) { zstdWriters.Put(e) }
