package shardio

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/winnowlabs/winnow/transforms/parquetjson"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// Reader yields a shard's rows, one JSON object per call to Next.
type Reader struct {
	path    string
	kind    Kind
	raw     io.ReadCloser
	counted *countingReader
	closers []func() error

	lines *bufio.Reader
	buf   []byte // accumulates lines longer than the bufio buffer
	pq    *parquetjson.Reader
	line  int64
}

// Open opens the shard at path for reading.
func Open(ctx context.Context, path string) (*Reader, error) {
	kind, ok := Detect(path)
	if !ok {
		return nil, fmt.Errorf("%s: not a shard (want .jsonl, .json or .ndjson, optionally .gz or .zst, or .parquet)", path)
	}
	r := &Reader{path: path, kind: kind}
	if kind.Format == Parquet {
		if err := r.openParquet(ctx); err != nil {
			r.Close()
			return nil, err
		}
		return r, nil
	}
	raw, err := storage.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	r.raw = raw
	r.counted = &countingReader{r: raw}
	r.closers = append(r.closers, raw.Close)
	var src io.Reader = r.counted
	switch kind.Compression {
	case Gzip:
		zr, err := gzip.NewReader(bufio.NewReaderSize(src, 256<<10))
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("%s: not a valid gzip file: %w", path, err)
		}
		r.closers = append(r.closers, zr.Close)
		src = zr
	case Zstd:
		zr := getZstdReader()
		if err := zr.Reset(bufio.NewReaderSize(src, 256<<10)); err != nil {
			putZstdReader(zr)
			r.Close()
			return nil, fmt.Errorf("%s: not a valid zstd file: %w", path, err)
		}
		r.closers = append(r.closers, func() error { putZstdReader(zr); return nil })
		src = zr
	}
	r.lines = bufio.NewReaderSize(src, 1<<20)
	return r, nil
}

func (r *Reader) openParquet(ctx context.Context) error {
	var (
		f    *os.File
		size int64
		err  error
	)
	if storage.IsLocal(r.path) {
		f, err = os.Open(r.path)
		if err != nil {
			return fmt.Errorf("open %s: %w", r.path, err)
		}
		r.closers = append(r.closers, f.Close)
	} else {
		// Parquet needs random access: copy the object to a local temporary file.
		f, err = os.CreateTemp("", "winnow-parquet-*")
		if err != nil {
			return fmt.Errorf("%s: create local copy: %w", r.path, err)
		}
		name := f.Name()
		r.closers = append(r.closers, func() error { f.Close(); return os.Remove(name) })
		src, err := storage.Open(ctx, r.path)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, src)
		src.Close()
		if err != nil {
			return fmt.Errorf("%s: download: %w", r.path, err)
		}
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", r.path, err)
	}
	size = st.Size()
	r.counted = &countingReader{}
	pq, err := parquetjson.NewReader(f, size)
	if err != nil {
		return fmt.Errorf("%s: %w", r.path, err)
	}
	r.pq = pq
	r.closers = append(r.closers, pq.Close)
	// Parquet is read as a whole; report its bytes once rows flow.
	r.counted.n.Store(size)
	return nil
}

// Path returns the shard's path.
func (r *Reader) Path() string { return r.path }

// Kind returns how the shard is encoded.
func (r *Reader) Kind() Kind { return r.kind }

// Line returns the 1-based line (for Parquet, row) number of the row last
// returned by Next.
func (r *Reader) Line() int64 { return r.line }

// BytesRead returns how many bytes of the file (compressed, as stored) have
// been consumed so far.
func (r *Reader) BytesRead() int64 { return r.counted.n.Load() }

// Next returns the next row as JSON text, without its line terminator. The
// slice is valid until the next call. Blank lines are skipped. At the end it
// returns io.EOF; a damaged file (e.g. a truncated .zst or .gz) gives an error
// naming the file and the line reached.
func (r *Reader) Next() ([]byte, error) {
	if r.pq != nil {
		row, err := r.pq.Next(r.buf[:0])
		if err == io.EOF {
			return nil, io.EOF
		}
		r.line++
		if err != nil {
			return nil, fmt.Errorf("%s: row %d: %w", r.path, r.line, err)
		}
		r.buf = row
		return row, nil
	}
	for {
		line, err := r.readLine()
		if err != nil {
			if err == io.EOF {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("%s: line %d: %w", r.path, r.line+1, describeReadError(r.kind, err))
		}
		r.line++
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		return line, nil
	}
}

// Each calls fn with every row of the shard at path and its line (for
// Parquet, row) number, in order, as Next returns them: line is valid only
// during the call. It stops at the first error, fn's or the reader's.
func Each(ctx context.Context, path string, fn func(line []byte, n int64) error) error {
	r, err := Open(ctx, path)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		line, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(line, r.Line()); err != nil {
			return err
		}
	}
}

func (r *Reader) readLine() ([]byte, error) {
	line, err := r.lines.ReadSlice('\n')
	if err == nil {
		return line[:len(line)-1], nil
	}
	if errors.Is(err, bufio.ErrBufferFull) {
		r.buf = append(r.buf[:0], line...)
		for {
			line, err = r.lines.ReadSlice('\n')
			r.buf = append(r.buf, line...)
			if err == nil {
				return r.buf[:len(r.buf)-1], nil
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		line = r.buf
	}
	if err == io.EOF && len(line) > 0 {
		// A last line without a newline is still a row.
		return line, nil
	}
	return nil, err
}

func describeReadError(k Kind, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		switch k.Compression {
		case Gzip:
			return fmt.Errorf("truncated gzip stream: %w", err)
		case Zstd:
			return fmt.Errorf("truncated zstd stream: %w", err)
		}
	}
	switch k.Compression {
	case Gzip:
		return fmt.Errorf("corrupt gzip stream: %w", err)
	case Zstd:
		return fmt.Errorf("corrupt zstd stream: %w", err)
	}
	return err
}

// Close releases the reader.
func (r *Reader) Close() error {
	var first error
	for i := len(r.closers) - 1; i >= 0; i-- {
		if err := r.closers[i](); err != nil && first == nil {
			first = err
		}
	}
	r.closers = nil
	return first
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

var zstdReaders sync.Pool

func getZstdReader() *zstd.Decoder {
	if d, ok := zstdReaders.Get().(*zstd.Decoder); ok {
		return d
	}
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<30))
	if err != nil {
		panic(fmt.Sprintf("zstd decoder: %v", err)) // only for invalid options
	}
	return d
}

func putZstdReader(d *zstd.Decoder) {
	_ = d.Reset(nil)
	zstdReaders.Put(d)
}
