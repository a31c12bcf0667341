package shardio

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/internal/testutil/fakecloud"
	"github.com/winnowlabs/winnow/transforms/storage"
)

func readRows(t *testing.T, path string) ([]string, error) {
	t.Helper()
	r, err := Open(context.Background(), path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []string
	for {
		line, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, string(line))
	}
}

func compress(t *testing.T, kind string, data []byte) []byte {
	var buf bytes.Buffer
	switch kind {
	case ".gz":
		w := gzip.NewWriter(&buf)
		w.Write(data)
		w.Close()
	case ".zst":
		w, _ := zstd.NewWriter(&buf)
		w.Write(data)
		w.Close()
	default:
		buf.Write(data)
	}
	return buf.Bytes()
}

func TestReadsEveryCompressionAndEdgeCases(t *testing.T) {
	long := `{"text":"` + strings.Repeat("x", 3<<20) + `"}`
	data := []byte("{\"a\":1}\r\n\n  \n{\"a\":2}\n" + long + "\n{\"a\":3}")
	want := []string{`{"a":1}`, `{"a":2}`, long, `{"a":3}`}
	dir := t.TempDir()
	for _, ext := range []string{".jsonl", ".json", ".ndjson", ".jsonl.gz", ".jsonl.zst", ".json.zstd"} {
		p := filepath.Join(dir, "x"+ext)
		comp := filepath.Ext(ext)
		if comp == ".zstd" {
			comp = ".zst"
		}
		os.WriteFile(p, compress(t, comp, data), 0o644)
		got, err := readRows(t, p)
		if err != nil {
			t.Fatalf("%s: %v", ext, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d rows, want %d", ext, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: row %d differs (len %d vs %d)", ext, i, len(got[i]), len(want[i]))
			}
		}
	}
}

func TestLineNumbersCountBlankLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.jsonl")
	os.WriteFile(p, []byte("{}\n\n{}\n"), 0o644)
	r, _ := Open(context.Background(), p)
	defer r.Close()
	r.Next()
	r.Next()
	if r.Line() != 3 {
		t.Fatalf("line %d, want 3", r.Line())
	}
}

func TestTruncatedFilesFailWithFileAndLine(t *testing.T) {
	var data []byte
	for i := 0; i < 20000; i++ {
		data = append(data, fmt.Sprintf("{\"i\":%d,\"pad\":\"%s\"}\n", i, strings.Repeat("p", i%50))...)
	}
	dir := t.TempDir()
	for _, ext := range []string{".gz", ".zst"} {
		full := compress(t, ext, data)
		p := filepath.Join(dir, "cut.jsonl"+ext)
		os.WriteFile(p, full[:len(full)*2/3], 0o644)
		rows, err := readRows(t, p)
		if err == nil {
			t.Fatalf("%s: truncated file read without error (%d rows)", ext, len(rows))
		}
		if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), fmt.Sprintf("line %d", len(rows)+1)) || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("%s: error %q should name the file, line %d and truncation", ext, err, len(rows)+1)
		}
	}
}

func TestReadsParquet(t *testing.T) {
	p := testutil.Testdata(t, "parquet")
	matches, _ := filepath.Glob(filepath.Join(p, "*.parquet"))
	if len(matches) == 0 {
		t.Fatal("no parquet fixture")
	}
	rows, err := readRows(t, matches[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 100 || !strings.HasPrefix(rows[0], `{"id":`) {
		t.Fatalf("%d rows, first %.60s", len(rows), rows[0])
	}
}

func TestWriterCommitsAtomically(t *testing.T) {
	ctx := context.Background()
	for _, ext := range []string{".jsonl.zst", ".jsonl.gz", ".jsonl", ".txt"} {
		dir := t.TempDir()
		p := filepath.Join(dir, "sub", "out"+ext)
		w, err := Create(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 1000; i++ {
			w.Write([]byte(fmt.Sprintf(`{"i":%d}`, i)))
		}
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s visible before commit", ext)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(filepath.Dir(p))
		if len(entries) != 1 {
			t.Fatalf("%s: directory holds %v, want only the shard", ext, entries)
		}
		if ext == ".txt" {
			continue
		}
		rows, err := readRows(t, p)
		if err != nil || len(rows) != 1000 || rows[999] != `{"i":999}` {
			t.Fatalf("%s: %d rows, %v", ext, len(rows), err)
		}
		w2, _ := Create(ctx, filepath.Join(dir, "aborted"+ext))
		w2.Write([]byte(`{}`))
		w2.Abort()
		entries, _ = os.ReadDir(dir)
		if len(entries) != 1 {
			t.Fatalf("%s: abort left %v", ext, entries)
		}
	}
}

func TestRoundTripOnObjectStores(t *testing.T) {
	fakecloud.StartGCS(t, "bucket")
	fakecloud.StartS3(t, "bucket")
	ctx := context.Background()
	for _, base := range []string{"gs://bucket/shards", "s3://bucket/shards", "memfs://roundtrip/shards"} {
		p := storage.Join(base, "train", "part-0.jsonl.zst")
		w, err := Create(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5000; i++ {
			w.Write([]byte(fmt.Sprintf(`{"i":%d,"text":"%s"}`, i, strings.Repeat("abc", i%100))))
		}
		if err := w.Commit(); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		files, err := storage.ListTree(ctx, base)
		if err != nil || len(files) != 1 || files[0] != p {
			t.Fatalf("%s: listed %v %v, want only %s", base, files, err, p)
		}
		rows, err := readRows(t, p)
		if err != nil || len(rows) != 5000 || !strings.HasPrefix(rows[4999], `{"i":4999,`) {
			t.Fatalf("%s: %d rows %v", p, len(rows), err)
		}
	}
}

func TestEachYieldsRowsWithLinesAndStopsAtAnError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.jsonl")
	if err := os.WriteFile(p, []byte("{\"i\":1}\n\n{\"i\":2}\n{\"i\":3}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := Each(context.Background(), p, func(line []byte, n int64) error {
		got = append(got, fmt.Sprintf("%d:%s", n, line))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := "1:{\"i\":1} 3:{\"i\":2} 4:{\"i\":3}"; strings.Join(got, " ") != want {
		t.Errorf("rows %q, want %q", strings.Join(got, " "), want)
	}
	stop := fmt.Errorf("stop")
	calls := 0
	if err := Each(context.Background(), p, func([]byte, int64) error { calls++; return stop }); err != stop || calls != 1 {
		t.Errorf("fn's error: got %v after %d calls, want it after 1", err, calls)
	}
	if err := Each(context.Background(), p+".missing", func([]byte, int64) error { return nil }); err == nil || !strings.Contains(err.Error(), "a.jsonl.missing") {
		t.Errorf("missing shard: %v", err)
	}
}
