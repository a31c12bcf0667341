package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

func TestRoundTrip(t *testing.T) {
	in := []Tensor{
		{Name: "w", Shape: []int{2, 3}, F32: []float32{1, -2.5, 3e-8, 0, float32(math.Inf(1)), 7}},
		{Name: "h", Shape: []int{3}, DType: F16, F32: []float32{0.5, -1, 65504}},
		{Name: "ids", Shape: []int{4}, I64: []int64{0, -1, 1 << 40, 5}},
		{Name: "small", Shape: []int{2}, DType: I32, I64: []int64{-7, 9}},
		{Name: "scalar", Shape: nil, F32: []float32{42}},
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := WriteFile(path, in, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Names(); !reflect.DeepEqual(got, []string{"h", "ids", "scalar", "small", "w"}) {
		t.Fatalf("names %v", got)
	}
	if f.Metadata["format"] != "pt" {
		t.Fatalf("metadata %v", f.Metadata)
	}
	w, shape, err := f.Float32("w")
	if err != nil || !reflect.DeepEqual(shape, []int{2, 3}) || !reflect.DeepEqual(w, in[0].F32) {
		t.Fatalf("w = %v %v %v", w, shape, err)
	}
	h, _, err := f.Float32("h")
	if err != nil || !reflect.DeepEqual(h, []float32{0.5, -1, 65504}) {
		t.Fatalf("h = %v %v", h, err)
	}
	ids, _, err := f.Int64("ids")
	if err != nil || !reflect.DeepEqual(ids, in[2].I64) {
		t.Fatalf("ids = %v %v", ids, err)
	}
	small, _, err := f.Int64("small")
	if err != nil || !reflect.DeepEqual(small, []int64{-7, 9}) || f.Info("small").DType != I32 {
		t.Fatalf("small = %v %v", small, err)
	}
	asFloat, _, err := f.Float32("small")
	if err != nil || !reflect.DeepEqual(asFloat, []float32{-7, 9}) {
		t.Fatalf("small as float = %v %v", asFloat, err)
	}
	sc, shape, err := f.Float32("scalar")
	if err != nil || len(shape) != 0 || sc[0] != 42 {
		t.Fatalf("scalar = %v %v %v", sc, shape, err)
	}
	if _, _, err := f.Int64("w"); err == nil {
		t.Fatal("reading a float tensor as integers should fail")
	}
	if _, _, err := f.Float32("absent"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent tensor: %v", err)
	}
	// The data section starts 8-byte aligned.
	b, _ := os.ReadFile(path)
	if hl := binary.LittleEndian.Uint64(b); (8+hl)%8 != 0 {
		t.Fatalf("header length %d leaves the data unaligned", hl)
	}
}

func TestWriteIsDeterministic(t *testing.T) {
	ts := []Tensor{{Name: "b", Shape: []int{1}, F32: []float32{1}}, {Name: "a", Shape: []int{1}, F32: []float32{2}}}
	var x, y bytes.Buffer
	if err := Write(&x, ts, nil); err != nil {
		t.Fatal(err)
	}
	if err := Write(&y, ts, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x.Bytes(), y.Bytes()) {
		t.Fatal("two writes of the same tensors differ")
	}
}

func TestBadFiles(t *testing.T) {
	good := func(hdr string, data int) []byte {
		var b bytes.Buffer
		binary.Write(&b, binary.LittleEndian, uint64(len(hdr)))
		b.WriteString(hdr)
		b.Write(make([]byte, data))
		return b.Bytes()
	}
	cases := map[string][]byte{
		"header length":   {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'},
		"parse header":    good(`{"a":`, 0),
		"unsupported":     good(`{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}`, 1),
		"does not hold":   good(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 8),
		"within":          good(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4),
		"negative":        good(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, 0),
		"read header len": {1, 2},
	}
	for want, b := range cases {
		_, err := NewFile("x.safetensors", bytes.NewReader(b), int64(len(b)))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "x.safetensors") {
			t.Errorf("%s: got %v", want, err)
		}
	}
	if err := Write(&bytes.Buffer{}, []Tensor{{Name: "a", Shape: []int{3}, F32: []float32{1}}}, nil); err == nil {
		t.Error("a tensor with too few values was written")
	}
	if err := Write(&bytes.Buffer{}, []Tensor{{Name: "a", Shape: []int{1}, DType: I32, I64: []int64{1 << 40}}}, nil); err == nil {
		t.Error("an out-of-range I32 was written")
	}
}

func TestHalfConversions(t *testing.T) {
	// Every finite half value survives half → float32 → half.
	for h := 0; h < 1<<16; h++ {
		f := HalfToFloat32(uint16(h))
		if math.IsNaN(float64(f)) {
			if back := Float32ToHalf(f); back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x", h, back)
			}
			continue
		}
		if back := Float32ToHalf(f); back != uint16(h) {
			t.Fatalf("%#04x → %v → %#04x", h, f, back)
		}
	}
	known := map[uint16]float32{
		0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0001: 5.960464477539063e-08, 0x0400: 6.103515625e-05, 0x3555: 0.333251953125,
	}
	for h, f := range known {
		if got := HalfToFloat32(h); got != f {
			t.Errorf("HalfToFloat32(%#04x) = %v, want %v", h, got, f)
		}
	}
	// Rounding: to nearest, ties to even; overflow to Inf; underflow to 0.
	rounding := map[float32]uint16{
		1 + 1.0/2048:        0x3c00, // tie, even stays
		1 + 3.0/2048:        0x3c02, // tie, odd rounds up
		1 + 1.0/2048 + 1e-7: 0x3c01,
		70000:               0x7c00,
		-70000:              0xfc00,
		1e-9:                0,
		65520:               0x7c00, // rounds past the largest half
	}
	for f, want := range rounding {
		if got := Float32ToHalf(f); got != want {
			t.Errorf("Float32ToHalf(%v) = %#04x, want %#04x", f, got, want)
		}
	}
}

// TestModel2VecFixtures reads the official Model2Vec fixtures: the float16
// and int8 tables hold the float32 table's values at lower precision.
func TestModel2VecFixtures(t *testing.T) {
	dir := testutil.SharedData(t, "model2vec")
	read := func(name string) ([]float32, []int) {
		f, err := Open(filepath.Join(dir, name, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		v, shape, err := f.Float32("embeddings")
		if err != nil {
			t.Fatal(err)
		}
		return v, shape
	}
	f32, shape := read("test-model-float32")
	f16, shape16 := read("test-model-float16")
	if !reflect.DeepEqual(shape, shape16) || len(shape) != 2 {
		t.Fatalf("shapes %v and %v", shape, shape16)
	}
	for i := range f32 {
		if d := math.Abs(float64(f32[i] - f16[i])); d > 1e-3*math.Max(1, math.Abs(float64(f32[i]))) {
			t.Fatalf("element %d: float32 %v, float16 %v", i, f32[i], f16[i])
		}
	}
	f, err := Open(filepath.Join(dir, "test-model-int8", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if dt := f.Info("embeddings").DType; dt != I8 {
		t.Fatalf("int8 fixture stores %s", dt)
	}
}
