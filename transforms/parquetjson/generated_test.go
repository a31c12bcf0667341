package parquetjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

type genItem struct {
	Name  *string  `parquet:"name,optional"`
	Tags  []string `parquet:"tags,list"`
	Score *float64 `parquet:"score,optional"`
}

type genInner struct {
	X *int32 `parquet:"x,optional"`
}

type genOuter struct {
	Inner *genInner `parquet:"inner,optional"`
}

// genRow covers every column type the package encodes. Its fields are
// deliberately not in alphabetical order, so the test sees schema order kept.
type genRow struct {
	Z      int64             `parquet:"z"`
	B      *bool             `parquet:"b,optional"`
	I8     int8              `parquet:"i8,int(8)"`
	I16    int16             `parquet:"i16,int(16)"`
	I32    int32             `parquet:"i32"`
	U8     uint8             `parquet:"u8,uint(8)"`
	U16    uint16            `parquet:"u16,uint(16)"`
	U32    uint32            `parquet:"u32,uint(32)"`
	U64    uint64            `parquet:"u64"`
	F32    float32           `parquet:"f32"`
	F64    *float64          `parquet:"f64,optional"`
	S      string            `parquet:"s"`
	Bin    []byte            `parquet:"bin"`
	I96    deprecated.Int96  `parquet:"i96"`
	TSMs   time.Time         `parquet:"ts_ms,timestamp(millisecond)"`
	TSUs   time.Time         `parquet:"ts_us,timestamp(microsecond)"`
	TSNs   int64             `parquet:"ts_ns_local,timestamp(nanosecond:local)"`
	D      int32             `parquet:"d,date"`
	Dec32  int32             `parquet:"dec32,decimal(4:9)"`
	Dec64  int64             `parquet:"dec64,decimal(2:18)"`
	DecFix []byte            `parquet:"dec_fixed,decimal(3:30)"`
	U      [16]byte          `parquet:"u,uuid"`
	J      string            `parquet:"j,json"`
	E      string            `parquet:"e,enum"`
	TMs    int32             `parquet:"t_ms,time(millisecond)"`
	TUs    int64             `parquet:"t_us,time(microsecond)"`
	Items  []*genItem        `parquet:"items,list,optional" parquet-element:",optional"`
	Matrix [][]int32         `parquet:"matrix,list"`
	Attrs  map[string]*int64 `parquet:"attrs,optional"`
	IntKey map[int32]string  `parquet:"int_key"`
	Bare   []int32           `parquet:"bare"`
	Nested *genOuter         `parquet:"nested,optional"`
}

func ptr[T any](v T) *T { return &v }

// int96Of encodes t as the legacy INT96 timestamp.
func int96Of(t time.Time) deprecated.Int96 {
	days := t.Unix()/86400 + unixEpochJulianDay
	nanos := uint64(t.Sub(time.Unix(t.Unix()/86400*86400, 0)))
	return deprecated.Int96{uint32(nanos), uint32(nanos >> 32), uint32(days)}
}

// decimalBytes encodes an unscaled decimal as a big-endian two's complement
// of n bytes.
func decimalBytes(t *testing.T, unscaled string, n int) []byte {
	t.Helper()
	x, ok := new(big.Int).SetString(unscaled, 10)
	if !ok {
		t.Fatalf("bad integer %q", unscaled)
	}
	if x.Sign() < 0 {
		x.Add(x, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
	}
	return x.FillBytes(make([]byte, n))
}

func writeFile[T any](t testing.TB, rows []T, options ...parquet.WriterOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf, options...)
	if _, err := w.Write(rows); err != nil {
		t.Fatalf("writing rows: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("closing writer: %v", err)
	}
	return buf.Bytes()
}

// readAll returns every row of a file as a JSON line.
func readAll(t testing.TB, data []byte) []string {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	defer r.Close()
	var lines []string
	var buf []byte
	for {
		buf, err = r.Next(buf[:0])
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Next after %d rows: %v", len(lines), err)
		}
		lines = append(lines, string(buf))
	}
	if int64(len(lines)) != r.NumRows() {
		t.Fatalf("read %d rows, NumRows says %d", len(lines), r.NumRows())
	}
	return lines
}

func TestAllTypes(t *testing.T) {
	uuid := [16]byte{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00}
	base := genRow{
		I96:    int96Of(time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC)),
		TSMs:   time.Date(2024, 2, 29, 12, 0, 0, 500_000_000, time.UTC),
		TSUs:   time.Date(1969, 12, 31, 23, 59, 59, 999_999_000, time.UTC),
		TSNs:   1700000000123456789,
		DecFix: decimalBytes(t, "0", 13),
		J:      "null",
		Matrix: [][]int32{},
		IntKey: map[int32]string{},
	}
	full := base
	full.Z = math.MinInt64
	full.B = ptr(true)
	full.I8, full.I16, full.I32 = -128, -32768, math.MinInt32
	full.U8, full.U16, full.U32, full.U64 = 255, 65535, math.MaxUint32, math.MaxUint64
	full.F32 = 0.1
	full.F64 = ptr(1e21)
	full.S = "tab\t \"q\" back\\ nl\n cr\r bs\b ff\f ctrl\x01 del\x7f <html>&amp; é 日本 😀 \u2028\u2029"
	full.Bin = []byte{0, 1, 2, 0xff}
	full.D = -1
	full.Dec32 = 7
	full.Dec64 = -5
	full.DecFix = decimalBytes(t, "-1234567890123456789012345", 13)
	full.U = uuid
	full.J = "{ \"a\" : [1, 2],\n \"b\": \"x\" }"
	full.E = "RED"
	full.TMs = 45296789
	full.TUs = 45296789012
	full.Items = []*genItem{{Name: ptr("n"), Tags: []string{"a", "b"}, Score: ptr(2.5)}, nil, {}}
	full.Matrix = [][]int32{{1, 2}, {}, {3}}
	full.Attrs = map[string]*int64{"k": ptr(int64(7))}
	full.IntKey = map[int32]string{-2: "two"}
	full.Bare = []int32{4, 5}
	full.Nested = &genOuter{Inner: &genInner{X: ptr(int32(5))}}

	nulls := base
	nulls.Z = 2
	nulls.F64 = ptr(math.NaN())
	nulls.Attrs = map[string]*int64{"n": nil}
	nulls.Nested = &genOuter{}
	nulls.Matrix = [][]int32{{}}
	nulls.Dec32 = -12345

	empties := base
	empties.Z = 3
	empties.F64 = ptr(math.Inf(-1))
	empties.F32 = 1.5e-7
	empties.Items = []*genItem{}
	empties.Attrs = map[string]*int64{}
	empties.Nested = &genOuter{Inner: &genInner{}}
	empties.Dec64 = 123456789012345678
	empties.DecFix = decimalBytes(t, "5", 13)

	data := writeFile(t, []genRow{full, nulls, empties})
	got := readAll(t, data)

	common := `"i96":"2021-03-04T05:06:07.123456789Z","ts_ms":"2024-02-29T12:00:00.500Z","ts_us":"1969-12-31T23:59:59.999999Z","ts_ns_local":"2023-11-14T22:13:20.123456789Z"`
	want := []string{
		`{"z":-9223372036854775808,"b":true,"i8":-128,"i16":-32768,"i32":-2147483648,"u8":255,"u16":65535,"u32":4294967295,"u64":18446744073709551615,` +
			`"f32":0.1,"f64":1e+21,"s":"tab\t \"q\" back\\ nl\n cr\r bs\b ff\f ctrl\u0001 del` + "\x7f" + ` <html>&amp; é 日本 😀 \u2028\u2029","bin":"AAEC/w==",` + common +
			`,"d":"1969-12-31","dec32":0.0007,"dec64":-0.05,"dec_fixed":-1234567890123456789012.345,"u":"123e4567-e89b-12d3-a456-426614174000",` +
			`"j":{"a":[1,2],"b":"x"},"e":"RED","t_ms":"12:34:56.789","t_us":"12:34:56.789012",` +
			`"items":[{"name":"n","tags":["a","b"],"score":2.5},null,{"name":null,"tags":[],"score":null}],"matrix":[[1,2],[],[3]],` +
			`"attrs":{"k":7},"int_key":{"-2":"two"},"bare":[4,5],"nested":{"inner":{"x":5}}}`,
		`{"z":2,"b":null,"i8":0,"i16":0,"i32":0,"u8":0,"u16":0,"u32":0,"u64":0,"f32":0,"f64":null,"s":"","bin":"",` + common +
			`,"d":"1970-01-01","dec32":-1.2345,"dec64":0.00,"dec_fixed":0.000,"u":"00000000-0000-0000-0000-000000000000",` +
			`"j":null,"e":"","t_ms":"00:00:00.000","t_us":"00:00:00.000000",` +
			`"items":null,"matrix":[[]],"attrs":{"n":null},"int_key":{},"bare":[],"nested":{"inner":null}}`,
		`{"z":3,"b":null,"i8":0,"i16":0,"i32":0,"u8":0,"u16":0,"u32":0,"u64":0,"f32":1.5e-7,"f64":null,"s":"","bin":"",` + common +
			`,"d":"1970-01-01","dec32":0.0000,"dec64":1234567890123456.78,"dec_fixed":0.005,"u":"00000000-0000-0000-0000-000000000000",` +
			`"j":null,"e":"","t_ms":"00:00:00.000","t_us":"00:00:00.000000",` +
			`"items":[],"matrix":[],"attrs":{},"int_key":{},"bare":[],"nested":{"inner":{"x":null}}}`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d:\n got %s\nwant %s", i+1, got[i], want[i])
		}
		if !json.Valid([]byte(got[i])) {
			t.Errorf("row %d is not valid JSON", i+1)
		}
	}
}

// float16Type is FIXED_LEN_BYTE_ARRAY(2) with the FLOAT16 logical type,
// which parquet-go reads but has no constructor for.
type float16Type struct{ parquet.Type }

func (float16Type) LogicalType() *format.LogicalType {
	return &format.LogicalType{Value: &format.Float16Type{}}
}

// legacyListType is a group with the LIST converted type and no logical
// type, as old writers produced.
type legacyListType struct{ parquet.Type }

func (legacyListType) LogicalType() *format.LogicalType { return nil }
func (legacyListType) ConvertedType() *deprecated.ConvertedType {
	ct := deprecated.List
	return &ct
}

type legacyList struct{ parquet.Group }

func (legacyList) Type() parquet.Type { return legacyListType{parquet.Group{}.Type()} }

// TestRowLevels writes rows value by value, with hand-set repetition and
// definition levels, for layouts parquet-go's struct writer does not make:
// FLOAT16 and the legacy two-level list.
func TestRowLevels(t *testing.T) {
	schema := parquet.NewSchema("row", parquet.Group{
		"a_half": parquet.Optional(parquet.Leaf(float16Type{parquet.FixedLenByteArrayType(2)})),
		// optional group b_list (LIST) { repeated group array { required int32 x; optional binary y (STRING) } }
		"b_list": parquet.Optional(legacyList{parquet.Group{
			"array": parquet.Repeated(parquet.Group{
				"x": parquet.Leaf(parquet.Int32Type),
				"y": parquet.Optional(parquet.String()),
			}),
		}}),
	})
	half := func(bits uint16) parquet.Value {
		return parquet.FixedLenByteArrayValue([]byte{byte(bits), byte(bits >> 8)})
	}
	null := parquet.Value{}
	str := func(s string) parquet.Value { return parquet.ByteArrayValue([]byte(s)) }
	i32 := func(x int32) parquet.Value { return parquet.Int32Value(x) }
	// columns: 0 a_half (max def 1), 1 b_list.array.x (def 2, rep 1), 2 b_list.array.y (def 3, rep 1)
	rows := []parquet.Row{
		{half(0x3c00).Level(0, 1, 0), // 1.0
			i32(1).Level(0, 2, 1), i32(2).Level(1, 2, 1),
			str("p").Level(0, 3, 2), null.Level(1, 2, 2)},
		{half(0xc000).Level(0, 1, 0), // -2.0
			null.Level(0, 0, 1), null.Level(0, 0, 2)},
		{half(0x0001).Level(0, 1, 0), // smallest subnormal, 2^-24
			null.Level(0, 1, 1), null.Level(0, 1, 2)},
		{half(0x7c00).Level(0, 1, 0), // +Inf
			i32(3).Level(0, 2, 1), null.Level(0, 2, 2)},
		{null.Level(0, 0, 0),
			i32(-4).Level(0, 2, 1), str("q").Level(0, 3, 2)},
		{half(0x3555).Level(0, 1, 0), // 0.333251953125
			null.Level(0, 1, 1), null.Level(0, 1, 2)},
	}
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, schema)
	if _, err := w.WriteRows(rows); err != nil {
		t.Fatalf("WriteRows: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// The file must really hold the layouts under test.
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var layout []string
	for _, e := range f.Metadata().Schema {
		layout = append(layout, fmt.Sprintf("%s/%v/%v/%s", e.Name, e.RepetitionType.V, e.ConvertedType.Valid && e.ConvertedType.V == deprecated.List, e.LogicalType.String()))
	}
	if got, want := strings.Join(layout, " "), "row/REQUIRED/false/ a_half/OPTIONAL/false/FLOAT16 b_list/OPTIONAL/true/ array/REPEATED/false/ x/REQUIRED/false/INT(32,true) y/OPTIONAL/false/STRING"; got != want {
		t.Fatalf("schema layout\n got %s\nwant %s", got, want)
	}
	got := readAll(t, buf.Bytes())
	want := []string{
		`{"a_half":1,"b_list":[{"x":1,"y":"p"},{"x":2,"y":null}]}`,
		`{"a_half":-2,"b_list":null}`,
		`{"a_half":5.9604645e-8,"b_list":[]}`,
		`{"a_half":null,"b_list":[{"x":3,"y":null}]}`,
		`{"a_half":null,"b_list":[{"x":-4,"y":"q"}]}`,
		`{"a_half":0.33325195,"b_list":[]}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

type mrgAuthor struct {
	Name  string  `parquet:"name"`
	Email *string `parquet:"email,optional"`
}

type mrgRow struct {
	ID      int64              `parquet:"id"`
	Text    string             `parquet:"text"`
	Score   *float64           `parquet:"score,optional"`
	Authors []*mrgAuthor       `parquet:"authors,list,optional" parquet-element:",optional"`
	Counts  map[string]int32   `parquet:"counts"`
	Flags   []bool             `parquet:"flags,list"`
	Series  map[string][]int32 `parquet:"series"`
	Grid    [][]string         `parquet:"grid,list"`
}

// mrgWant is the JSON value a row must decode to, built from the Go value
// without this package.
func mrgWant(r mrgRow) any {
	m := map[string]any{"id": json.Number(fmt.Sprint(r.ID)), "text": r.Text, "score": nil, "authors": nil}
	if r.Score != nil {
		m["score"] = json.Number(string(appendFloatStd(*r.Score)))
	}
	if r.Authors != nil {
		as := []any{}
		for _, a := range r.Authors {
			if a == nil {
				as = append(as, nil)
				continue
			}
			var email any
			if a.Email != nil {
				email = *a.Email
			}
			as = append(as, map[string]any{"name": a.Name, "email": email})
		}
		m["authors"] = as
	}
	counts := map[string]any{}
	for k, v := range r.Counts {
		counts[k] = json.Number(fmt.Sprint(v))
	}
	m["counts"] = counts
	flags := []any{}
	for _, f := range r.Flags {
		flags = append(flags, f)
	}
	m["flags"] = flags
	series := map[string]any{}
	for k, vs := range r.Series {
		l := []any{}
		for _, v := range vs {
			l = append(l, json.Number(fmt.Sprint(v)))
		}
		series[k] = l
	}
	m["series"] = series
	grid := []any{}
	for _, row := range r.Grid {
		l := []any{}
		for _, v := range row {
			l = append(l, v)
		}
		grid = append(grid, l)
	}
	m["grid"] = grid
	return m
}

// appendFloatStd formats a float64 with encoding/json.
func appendFloatStd(f float64) []byte {
	b, err := json.Marshal(f)
	if err != nil {
		panic(err)
	}
	return b
}

func decodeNumbers(t testing.TB, line string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(line))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decoding %s: %v", line, err)
	}
	if d.More() {
		t.Fatalf("trailing data after the object in %s", line)
	}
	return v
}

// TestMultipleRowGroups reads a file of many small row groups and pages and
// checks every row, in order, against its Go value.
func TestMultipleRowGroups(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"alpha", "βeta", "gamma\n", "\"delta\"", "日本語", ""}
	rows := make([]mrgRow, 2500)
	for i := range rows {
		r := mrgRow{ID: int64(i) * 1_000_003, Text: strings.Repeat(words[rng.IntN(len(words))], rng.IntN(40))}
		if rng.IntN(4) > 0 {
			r.Score = ptr(rng.NormFloat64() * 1e3)
		}
		switch rng.IntN(4) {
		case 0: // null list
		case 1:
			r.Authors = []*mrgAuthor{}
		default:
			for range rng.IntN(4) + 1 {
				if rng.IntN(5) == 0 {
					r.Authors = append(r.Authors, nil)
					continue
				}
				a := &mrgAuthor{Name: words[rng.IntN(len(words))]}
				if rng.IntN(2) == 0 {
					a.Email = ptr(fmt.Sprintf("a%d@example.org", rng.IntN(100)))
				}
				r.Authors = append(r.Authors, a)
			}
		}
		r.Counts = map[string]int32{}
		for range rng.IntN(4) {
			r.Counts[words[rng.IntN(len(words))]] = rng.Int32N(1000) - 500
		}
		for range rng.IntN(3) {
			r.Flags = append(r.Flags, rng.IntN(2) == 0)
		}
		r.Series = map[string][]int32{}
		for range rng.IntN(3) {
			var vs []int32
			for range rng.IntN(4) {
				vs = append(vs, rng.Int32())
			}
			r.Series[words[rng.IntN(len(words))]] = vs
		}
		for range rng.IntN(3) {
			var row []string
			for range rng.IntN(3) {
				row = append(row, words[rng.IntN(len(words))])
			}
			r.Grid = append(r.Grid, row)
		}
		rows[i] = r
	}
	data := writeFile(t, rows, parquet.MaxRowsPerRowGroup(300), parquet.PageBufferSize(2048))
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.RowGroups()); n < 8 {
		t.Fatalf("the file has %d row groups, the test needs several", n)
	}
	got := readAll(t, data)
	if len(got) != len(rows) {
		t.Fatalf("got %d rows, want %d", len(got), len(rows))
	}
	for i, line := range got {
		if want, have := mrgWant(rows[i]), decodeNumbers(t, line); !reflect.DeepEqual(have, want) {
			t.Fatalf("row %d:\n got %s\nwant %#v", i+1, line, want)
		}
		if !strings.HasPrefix(line, `{"id":`) || !strings.Contains(line, `,"text":`) {
			t.Fatalf("row %d: keys not in schema order: %s", i+1, line)
		}
	}
}

// TestFieldNamesAndEmptyFile checks that field names are escaped as JSON
// strings, and that a file without rows yields io.EOF at once.
func TestFieldNamesAndEmptyFile(t *testing.T) {
	schema := parquet.NewSchema("row", parquet.Group{
		"a \"quoted\"\tname": parquet.String(),
		"é/\u2028":           parquet.Leaf(parquet.BooleanType),
	})
	for _, rows := range [][]parquet.Row{
		{{parquet.ByteArrayValue([]byte("v")).Level(0, 0, 0), parquet.BooleanValue(true).Level(0, 0, 1)}},
		nil,
	} {
		var buf bytes.Buffer
		w := parquet.NewWriter(&buf, schema)
		if _, err := w.WriteRows(rows); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got := readAll(t, buf.Bytes())
		want := []string{`{"a \"quoted\"\tname":"v","é/\u2028":true}`}
		if rows == nil {
			want = nil
		}
		if !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
