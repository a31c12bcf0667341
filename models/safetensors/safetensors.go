// Package safetensors reads and writes the safetensors format that Hugging
// Face models (Model2Vec, BERT checkpoints) and winnow's own heads are stored
// in: an 8-byte little-endian header length, a JSON header mapping each
// tensor name to its dtype, shape and byte range, then the raw little-endian
// data.
//
// Tensors are read on the host as float32 (from F32, F16, BF16, F64 and the
// integer dtypes) or as int64 (from the integer dtypes), which is what
// winnow's models compute with; writing supports F32, F16, I64 and I32.
// github.com/gomlx/go-huggingface reads safetensors only through its Hub
// repository type and onto a GoMLX backend, and does not write them.
package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// DType is a safetensors element type name ("F32", "F16", "BF16", "I8", ...).
type DType string

// The element types this package knows.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U8   DType = "U8"
	Bool DType = "BOOL"
)

// Size returns the byte size of one element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16, I16:
		return 2
	case I8, U8, Bool:
		return 1
	}
	return 0
}

func (d DType) isInt() bool {
	switch d {
	case I64, I32, I16, I8, U8, Bool:
		return true
	}
	return false
}

// Info describes one tensor of a file.
type Info struct {
	Name  string `json:"-"`
	DType DType  `json:"dtype"`
	Shape []int  `json:"shape"`
	// Offsets are the tensor's byte range in the data section.
	Offsets [2]int64 `json:"data_offsets"`
}

// Elements returns the number of elements (1 for a scalar).
func (i *Info) Elements() int {
	n := 1
	for _, d := range i.Shape {
		n *= d
	}
	return n
}

// maxHeader bounds the JSON header (the format's own limit is 100 MB).
const maxHeader = 100 << 20

// File is an open safetensors file.
type File struct {
	path     string
	r        io.ReaderAt
	closer   io.Closer
	dataBase int64
	tensors  map[string]*Info
	// Metadata is the header's optional "__metadata__" string map.
	Metadata map[string]string
}

// Open opens the safetensors file at path and parses its header.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	sf, err := NewFile(path, f, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	sf.closer = f
	return sf, nil
}

// NewFile parses the safetensors data of r, which is size bytes long; name
// is used in errors.
func NewFile(name string, r io.ReaderAt, size int64) (*File, error) {
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors %s: read header length: %w", name, err)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen == 0 || hlen > maxHeader || int64(hlen)+8 > size {
		return nil, fmt.Errorf("safetensors %s: header length %d does not fit a file of %d bytes", name, hlen, size)
	}
	hdr := make([]byte, hlen)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("safetensors %s: read header: %w", name, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, fmt.Errorf("safetensors %s: parse header: %w", name, err)
	}
	f := &File{path: name, r: r, dataBase: 8 + int64(hlen), tensors: map[string]*Info{}}
	dataLen := size - f.dataBase
	for k, v := range raw {
		if k == "__metadata__" {
			if err := json.Unmarshal(v, &f.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors %s: parse __metadata__: %w", name, err)
			}
			continue
		}
		info := &Info{Name: k}
		if err := json.Unmarshal(v, info); err != nil {
			return nil, fmt.Errorf("safetensors %s: tensor %q: %w", name, k, err)
		}
		if info.DType.Size() == 0 {
			return nil, fmt.Errorf("safetensors %s: tensor %q has unsupported dtype %q", name, k, info.DType)
		}
		for _, d := range info.Shape {
			if d < 0 {
				return nil, fmt.Errorf("safetensors %s: tensor %q has negative dimension in shape %v", name, k, info.Shape)
			}
		}
		want := int64(info.Elements()) * int64(info.DType.Size())
		if info.Offsets[0] < 0 || info.Offsets[1] < info.Offsets[0] || info.Offsets[1]-info.Offsets[0] != want || info.Offsets[1] > dataLen {
			return nil, fmt.Errorf("safetensors %s: tensor %q: byte range %v does not hold %v %s elements within %d data bytes",
				name, k, info.Offsets, info.Shape, info.DType, dataLen)
		}
		f.tensors[k] = info
	}
	return f, nil
}

// Close closes the underlying file when Open opened it.
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

// Path returns the file's name.
func (f *File) Path() string { return f.path }

// Names returns the tensor names, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.tensors))
	for n := range f.tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Info returns a tensor's description, or nil when the file has none of
// that name.
func (f *File) Info(name string) *Info { return f.tensors[name] }

// ErrNotFound is wrapped by the errors of reads of absent tensors.
var ErrNotFound = errors.New("no such tensor")

func (f *File) raw(name string) (*Info, []byte, error) {
	info := f.tensors[name]
	if info == nil {
		return nil, nil, fmt.Errorf("safetensors %s: tensor %q: %w", f.path, name, ErrNotFound)
	}
	b := make([]byte, info.Offsets[1]-info.Offsets[0])
	if _, err := f.r.ReadAt(b, f.dataBase+info.Offsets[0]); err != nil {
		return nil, nil, fmt.Errorf("safetensors %s: read tensor %q: %w", f.path, name, err)
	}
	return info, b, nil
}

// Float32 reads a tensor as float32, converting from any dtype; it returns
// the values in row-major order and the shape.
func (f *File) Float32(name string) ([]float32, []int, error) {
	info, b, err := f.raw(name)
	if err != nil {
		return nil, nil, err
	}
	n := info.Elements()
	out := make([]float32, n)
	le := binary.LittleEndian
	switch info.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
		}
	case F16:
		for i := range out {
			out[i] = HalfToFloat32(le.Uint16(b[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = math.Float32frombits(uint32(le.Uint16(b[2*i:])) << 16)
		}
	default:
		ints, err := decodeInts(info, b)
		if err != nil {
			return nil, nil, fmt.Errorf("safetensors %s: tensor %q: %w", f.path, name, err)
		}
		for i, v := range ints {
			out[i] = float32(v)
		}
	}
	return out, slices.Clone(info.Shape), nil
}

// Int64 reads an integer tensor as int64.
func (f *File) Int64(name string) ([]int64, []int, error) {
	info, b, err := f.raw(name)
	if err != nil {
		return nil, nil, err
	}
	if !info.DType.isInt() {
		return nil, nil, fmt.Errorf("safetensors %s: tensor %q is %s, not an integer tensor", f.path, name, info.DType)
	}
	ints, err := decodeInts(info, b)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors %s: tensor %q: %w", f.path, name, err)
	}
	return ints, slices.Clone(info.Shape), nil
}

func decodeInts(info *Info, b []byte) ([]int64, error) {
	out := make([]int64, info.Elements())
	le := binary.LittleEndian
	switch info.DType {
	case I64:
		for i := range out {
			out[i] = int64(le.Uint64(b[8*i:]))
		}
	case I32:
		for i := range out {
			out[i] = int64(int32(le.Uint32(b[4*i:])))
		}
	case I16:
		for i := range out {
			out[i] = int64(int16(le.Uint16(b[2*i:])))
		}
	case I8:
		for i := range out {
			out[i] = int64(int8(b[i]))
		}
	case U8, Bool:
		for i := range out {
			out[i] = int64(b[i])
		}
	default:
		return nil, fmt.Errorf("dtype %s is not an integer type", info.DType)
	}
	return out, nil
}

// HalfToFloat32 converts an IEEE 754 half-precision value to float32.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalize it
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		mant &= 0x3ff
		return math.Float32frombits(sign | e<<23 | mant<<13)
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// Float32ToHalf converts a float32 to half precision, rounding to nearest
// even; values beyond the half range become ±Inf.
func Float32ToHalf(f float32) uint16 {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	exp := int32(bits>>23) & 0xff
	mant := bits & 0x7fffff
	if exp == 0xff { // Inf or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - e)
		half := mant >> shift
		rem := mant & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++ // may carry into the exponent, which is still correct
	}
	return sign | uint16(half)
}

// Tensor is one tensor to write. Exactly one of F32 and I64 holds its
// values; DType says how they are stored (F32 or F16 for F32 values, I64 or
// I32 for I64 values; empty means F32 or I64).
type Tensor struct {
	Name  string
	Shape []int
	DType DType
	F32   []float32
	I64   []int64
}

func (t *Tensor) dtype() DType {
	if t.DType != "" {
		return t.DType
	}
	if t.I64 != nil {
		return I64
	}
	return F32
}

func (t *Tensor) encode() ([]byte, error) {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	le := binary.LittleEndian
	dt := t.dtype()
	switch dt {
	case F32, F16:
		if len(t.F32) != n || t.I64 != nil {
			return nil, fmt.Errorf("tensor %q: want %d float values for shape %v, have %d", t.Name, n, t.Shape, len(t.F32))
		}
		b := make([]byte, n*dt.Size())
		for i, v := range t.F32 {
			if dt == F32 {
				le.PutUint32(b[4*i:], math.Float32bits(v))
			} else {
				le.PutUint16(b[2*i:], Float32ToHalf(v))
			}
		}
		return b, nil
	case I64, I32:
		if len(t.I64) != n || t.F32 != nil {
			return nil, fmt.Errorf("tensor %q: want %d integer values for shape %v, have %d", t.Name, n, t.Shape, len(t.I64))
		}
		b := make([]byte, n*dt.Size())
		for i, v := range t.I64 {
			if dt == I64 {
				le.PutUint64(b[8*i:], uint64(v))
			} else {
				if v < math.MinInt32 || v > math.MaxInt32 {
					return nil, fmt.Errorf("tensor %q: value %d does not fit I32", t.Name, v)
				}
				le.PutUint32(b[4*i:], uint32(int32(v)))
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("tensor %q: writing dtype %s is not supported", t.Name, dt)
}

// Write encodes tensors (in the given order) with optional metadata to w.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	datas := make([][]byte, len(tensors))
	var off int64
	for i := range tensors {
		t := &tensors[i]
		if _, dup := header[t.Name]; dup || t.Name == "" {
			return fmt.Errorf("safetensors: tensor name %q is empty or repeated", t.Name)
		}
		b, err := t.encode()
		if err != nil {
			return fmt.Errorf("safetensors: %w", err)
		}
		datas[i] = b
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = Info{DType: t.dtype(), Shape: shape, Offsets: [2]int64{off, off + int64(len(b))}}
		off += int64(len(b))
	}
	hdr, err := json.Marshal(header) // map keys are sorted: the output is deterministic
	if err != nil {
		return fmt.Errorf("safetensors: encode header: %w", err)
	}
	// Pad the header with spaces so that the data starts 8-byte aligned.
	for (8+len(hdr))%8 != 0 {
		hdr = append(hdr, ' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	for _, b := range datas {
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("safetensors: %w", err)
		}
	}
	return nil
}

// WriteFile writes tensors to path atomically: a temporary file in the same
// directory, renamed into place once complete.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if err := Write(tmp, tensors, metadata); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("safetensors: commit %s: %w", path, err)
	}
	return nil
}
