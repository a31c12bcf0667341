package fasttext

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"unsafe"
)

// hostLittleEndian is true on the platforms where float32 slices can be
// copied to and from the little-endian model format as raw memory.
var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// binReader reads fastText's little-endian binary format, remembering the
// first error and the offset for messages.
type binReader struct {
	r   *bufio.Reader
	off int64
	e   error
	buf [8]byte
	// file is set when reading a file from its offset base: large
	// matrices are then mapped instead of read (see mapFloats).
	file *os.File
	base int64
}

func newBinReader(r io.Reader) *binReader {
	b := &binReader{r: bufio.NewReaderSize(r, 1<<20)}
	if f, ok := r.(*os.File); ok {
		if pos, err := f.Seek(0, io.SeekCurrent); err == nil {
			b.file, b.base = f, pos
		}
	}
	return b
}

// fileOffset returns the file offset of the next byte to read.
func (b *binReader) fileOffset() int64 { return b.base + b.off }

// skip moves past the next n bytes of the file without reading them.
func (b *binReader) skip(n int64) error {
	if _, err := b.file.Seek(b.fileOffset()+n, io.SeekStart); err != nil {
		b.fail(err)
		return b.e
	}
	b.r.Reset(b.file)
	b.off += n
	return nil
}

func (b *binReader) err() error { return b.e }

func (b *binReader) fail(err error) {
	if b.e == nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		b.e = fmt.Errorf("at byte %d: %w", b.off, err)
	}
}

func (b *binReader) read(p []byte) {
	if b.e != nil {
		clear(p)
		return
	}
	n, err := io.ReadFull(b.r, p)
	b.off += int64(n)
	if err != nil {
		b.fail(err)
	}
}

func (b *binReader) u8() uint8 {
	b.read(b.buf[:1])
	return b.buf[0]
}

func (b *binReader) bool() bool { return b.u8() != 0 }

func (b *binReader) i32() int32 {
	b.read(b.buf[:4])
	return int32(binary.LittleEndian.Uint32(b.buf[:4]))
}

func (b *binReader) i64() int64 {
	b.read(b.buf[:8])
	return int64(binary.LittleEndian.Uint64(b.buf[:8]))
}

func (b *binReader) f32() float32 {
	b.read(b.buf[:4])
	return math.Float32frombits(binary.LittleEndian.Uint32(b.buf[:4]))
}

func (b *binReader) f64() float64 {
	b.read(b.buf[:8])
	return math.Float64frombits(binary.LittleEndian.Uint64(b.buf[:8]))
}

// cstring reads a NUL-terminated string.
func (b *binReader) cstring() string {
	if b.e != nil {
		return ""
	}
	s, err := b.r.ReadSlice(0)
	if err == nil {
		b.off += int64(len(s))
		return string(s[:len(s)-1])
	}
	// Long word: collect the pieces.
	buf := append([]byte(nil), s...)
	for errors.Is(err, bufio.ErrBufferFull) {
		s, err = b.r.ReadSlice(0)
		buf = append(buf, s...)
	}
	b.off += int64(len(buf))
	if err != nil {
		b.fail(err)
		return ""
	}
	return string(buf[:len(buf)-1])
}

// f32s fills v.
func (b *binReader) f32s(v []float32) {
	if len(v) == 0 {
		return
	}
	if hostLittleEndian {
		b.read(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v)))
		return
	}
	for i := range v {
		v[i] = b.f32()
	}
}

// binWriter writes fastText's little-endian binary format, remembering the
// first error.
type binWriter struct {
	w   *bufio.Writer
	e   error
	buf [8]byte
}

func newBinWriter(w io.Writer) *binWriter {
	return &binWriter{w: bufio.NewWriterSize(w, 1<<20)}
}

func (b *binWriter) bytes(p []byte) {
	if b.e != nil {
		return
	}
	if _, err := b.w.Write(p); err != nil {
		b.e = err
	}
}

func (b *binWriter) u8(v uint8) {
	b.buf[0] = v
	b.bytes(b.buf[:1])
}

func (b *binWriter) bool(v bool) {
	if v {
		b.u8(1)
	} else {
		b.u8(0)
	}
}

func (b *binWriter) i32(v int32) {
	binary.LittleEndian.PutUint32(b.buf[:4], uint32(v))
	b.bytes(b.buf[:4])
}

func (b *binWriter) i64(v int64) {
	binary.LittleEndian.PutUint64(b.buf[:8], uint64(v))
	b.bytes(b.buf[:8])
}

func (b *binWriter) f32(v float32) {
	binary.LittleEndian.PutUint32(b.buf[:4], math.Float32bits(v))
	b.bytes(b.buf[:4])
}

func (b *binWriter) f64(v float64) {
	binary.LittleEndian.PutUint64(b.buf[:8], math.Float64bits(v))
	b.bytes(b.buf[:8])
}

func (b *binWriter) f32s(v []float32) {
	if len(v) == 0 {
		return
	}
	if hostLittleEndian {
		b.bytes(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v)))
		return
	}
	for _, x := range v {
		b.f32(x)
	}
}

// flush writes out buffered data and returns the first error.
func (b *binWriter) flush() error {
	if b.e != nil {
		return b.e
	}
	b.e = b.w.Flush()
	return b.e
}
