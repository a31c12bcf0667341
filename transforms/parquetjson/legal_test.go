package parquetjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/winnowlabs/winnow/internal/testutil"
)

// legalRow is the schema of the fineweb-legal files, read by parquet-go's
// own struct decoder: the independent path the JSON rows are checked
// against.
type legalRow struct {
	ID          *string `parquet:"id,optional"`
	Score       *int8   `parquet:"score,optional,int(8)"`
	Reasoning   *string `parquet:"reasoning,optional"`
	Text        *string `parquet:"text,optional"`
	URL         *string `parquet:"url,optional"`
	Timestamp   *int64  `parquet:"timestamp,optional,timestamp(microsecond:local)"`
	Model       *string `parquet:"model,optional"`
	InputTokens *int32  `parquet:"input_tokens,optional"`
	TextLength  *int32  `parquet:"text_length,optional"`
}

// legalJSON is a JSON row decoded with encoding/json.
type legalJSON struct {
	ID          *string `json:"id"`
	Score       *int8   `json:"score"`
	Reasoning   *string `json:"reasoning"`
	Text        *string `json:"text"`
	URL         *string `json:"url"`
	Timestamp   *string `json:"timestamp"`
	Model       *string `json:"model"`
	InputTokens *int32  `json:"input_tokens"`
	TextLength  *int32  `json:"text_length"`
}

var legalKeys = []string{"id", "score", "reasoning", "text", "url", "timestamp", "model", "input_tokens", "text_length"}

// topKeys returns the keys of a JSON object in the order they appear.
func topKeys(t testing.TB, line []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(line))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", line)
	}
	var keys []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			t.Fatalf("reading key: %v", err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatalf("reading value of %v: %v", tok, err)
		}
	}
	return keys
}

func equalPtr[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// checkLegalFile reads a file both ways, compares every row field by field
// and adds the scores to hist (key -1 for a null score).
func checkLegalFile(t *testing.T, path string, hist map[int]int) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := parquet.Read[legalRow](bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("%s: parquet.Read: %v", path, err)
	}
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("%s: NewReader: %v", path, err)
	}
	defer r.Close()
	if r.NumRows() != int64(len(want)) {
		t.Fatalf("%s: NumRows %d, parquet.Read gives %d rows", path, r.NumRows(), len(want))
	}
	var line []byte
	n := 0
	for ; ; n++ {
		line, err = r.Next(line[:0])
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: row %d: %v", path, n+1, err)
		}
		if n >= len(want) {
			t.Fatalf("%s: more rows than parquet.Read gives", path)
		}
		if bytes.IndexByte(line, '\n') >= 0 {
			t.Fatalf("%s: row %d holds a raw newline", path, n+1)
		}
		if keys := topKeys(t, line); !slices.Equal(keys, legalKeys) {
			t.Fatalf("%s: row %d keys %v, want %v", path, n+1, keys, legalKeys)
		}
		var got legalJSON
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("%s: row %d: %v", path, n+1, err)
		}
		w := want[n]
		var ts *string
		if w.Timestamp != nil {
			s := time.UnixMicro(*w.Timestamp).UTC().Format("2006-01-02T15:04:05.000000Z07:00")
			ts = &s
		}
		for _, f := range []struct {
			name string
			ok   bool
		}{
			{"id", equalPtr(got.ID, w.ID)},
			{"score", equalPtr(got.Score, w.Score)},
			{"reasoning", equalPtr(got.Reasoning, w.Reasoning)},
			{"text", equalPtr(got.Text, w.Text)},
			{"url", equalPtr(got.URL, w.URL)},
			{"timestamp", equalPtr(got.Timestamp, ts)},
			{"model", equalPtr(got.Model, w.Model)},
			{"input_tokens", equalPtr(got.InputTokens, w.InputTokens)},
			{"text_length", equalPtr(got.TextLength, w.TextLength)},
		} {
			if !f.ok {
				t.Errorf("%s: row %d: field %s differs from parquet-go's decoding", path, n+1, f.name)
			}
		}
		// The scores counted from the JSON rows and from the structs.
		if got.Score == nil {
			hist[-1]++
		} else {
			hist[int(*got.Score)]++
		}
		if w.Score == nil {
			hist[-101]++
		} else {
			hist[int(*w.Score)-100]++
		}
	}
	if n != len(want) {
		t.Fatalf("%s: %d rows, parquet.Read gives %d", path, n, len(want))
	}
	return n
}

// splitHist separates the two histograms checkLegalFile interleaves.
func splitHist(hist map[int]int) (fromJSON, fromStructs map[int]int) {
	fromJSON, fromStructs = map[int]int{}, map[int]int{}
	for k, v := range hist {
		if k < -50 {
			fromStructs[k+100] = v
		} else {
			fromJSON[k] = v
		}
	}
	return fromJSON, fromStructs
}

func TestLegalTestdata(t *testing.T) {
	hist := map[int]int{}
	n := checkLegalFile(t, testutil.Testdata(t, "parquet/fineweb-legal-batch_000016.parquet"), hist)
	if n != 100 {
		t.Fatalf("%d rows, the fixture has 100", n)
	}
	fromJSON, fromStructs := splitHist(hist)
	// Both paths must agree with each other and with the pinned counts.
	want := map[int]int{0: 28, 1: 15, 2: 10, 3: 12, 4: 25, 5: 10}
	if !mapsEqual(fromJSON, want) || !mapsEqual(fromStructs, want) {
		t.Errorf("score histogram: from JSON %v, from structs %v, want %v", fromJSON, fromStructs, want)
	}
}

func mapsEqual(a, b map[int]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestLegalShared(t *testing.T) {
	dir := testutil.SharedData(t, "fineweb-legal-annotations/parquet")
	files, err := filepath.Glob(filepath.Join(dir, "*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 65 {
		t.Fatalf("%d files in %s, want 65", len(files), dir)
	}
	hist := map[int]int{}
	total := 0
	for _, f := range files {
		total += checkLegalFile(t, f, hist)
	}
	if total != 6500 {
		t.Errorf("%d rows in total, want 6500", total)
	}
	fromJSON, fromStructs := splitHist(hist)
	want := map[int]int{0: 2494, 1: 780, 2: 574, 3: 793, 4: 1372, 5: 487}
	if !mapsEqual(fromJSON, want) || !mapsEqual(fromStructs, want) {
		t.Errorf("score histogram: from JSON %v, from structs %v, want %v", fromJSON, fromStructs, want)
	}
	t.Logf("score histogram over %d rows: %v", total, fromJSON)
}

// BenchmarkLegal reports the throughput of converting the 65 legal files
// (28 MB of snappy Parquet), counted in Parquet file bytes and in JSON bytes.
func BenchmarkLegal(b *testing.B) {
	dir := testutil.SharedData(b, "fineweb-legal-annotations/parquet")
	files, _ := filepath.Glob(filepath.Join(dir, "*.parquet"))
	var datas [][]byte
	var size int64
	for _, f := range files {
		d, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		datas = append(datas, d)
		size += int64(len(d))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	var jsonBytes int64
	var line []byte
	for b.Loop() {
		jsonBytes = 0
		for _, d := range datas {
			r, err := NewReader(bytes.NewReader(d), int64(len(d)))
			if err != nil {
				b.Fatal(err)
			}
			for {
				line, err = r.Next(line[:0])
				if err != nil {
					break
				}
				jsonBytes += int64(len(line)) + 1
			}
			if !errors.Is(err, io.EOF) {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(jsonBytes)*float64(b.N)/b.Elapsed().Seconds()/1e6, "JSON-MB/s")
}
