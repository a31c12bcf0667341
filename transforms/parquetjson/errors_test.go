package parquetjson

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

type utf8Row struct {
	ID   int64  `parquet:"id"`
	Text string `parquet:"text"`
}

func TestInvalidUTF8(t *testing.T) {
	data := writeFile(t, []utf8Row{{1, "fine"}, {2, "é ok"}, {3, "bad \xff byte"}, {4, "never read"}})
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var line []byte
	for i := range 2 {
		if line, err = r.Next(line[:0]); err != nil {
			t.Fatalf("row %d: %v", i+1, err)
		}
	}
	_, err = r.Next(line[:0])
	if err == nil || !strings.Contains(err.Error(), `row 3: column "text": invalid UTF-8`) {
		t.Fatalf("got error %v, want one naming row 3 and column text", err)
	}
	if _, again := r.Next(nil); again == nil || again.Error() != err.Error() {
		t.Fatalf("the error is not sticky: %v", again)
	}
}

func legalFixture(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(testutil.Testdata(t, "parquet/fineweb-legal-batch_000016.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestTruncatedFile(t *testing.T) {
	data := legalFixture(t)
	for _, n := range []int{0, 3, 4, 100, len(data) / 2, len(data) - 9, len(data) - 1} {
		_, err := NewReader(bytes.NewReader(data[:n]), int64(n))
		if err == nil {
			t.Errorf("a file truncated to %d bytes opened without error", n)
			continue
		}
		if !strings.HasPrefix(err.Error(), "parquetjson: opening parquet file: ") {
			t.Errorf("truncated to %d bytes: unclear error %q", n, err)
		}
	}
	if _, err := NewReader(strings.NewReader("not a parquet file at all"), 25); err == nil ||
		!strings.Contains(err.Error(), "magic") {
		t.Errorf("a text file gave %v, want an error about the magic bytes", err)
	}
}

// TestCorruptPage damages the first data page of the text column: the
// footer still opens, and reading the rows fails naming the column.
func TestCorruptPage(t *testing.T) {
	data := legalFixture(t)
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	chunk := r.file.Metadata().RowGroups[0].Columns[3]
	if chunk.MetaData.PathInSchema[0] != "text" {
		t.Fatalf("column 3 is %v", chunk.MetaData.PathInSchema)
	}
	off := chunk.MetaData.DataPageOffset
	if chunk.MetaData.DictionaryPageOffset > 0 && chunk.MetaData.DictionaryPageOffset < off {
		off = chunk.MetaData.DictionaryPageOffset
	}
	for _, at := range []int64{0, 40} {
		bad := bytes.Clone(data)
		for i := off + at; i < off+at+64; i++ {
			bad[i] ^= 0xa5
		}
		r, err := NewReader(bytes.NewReader(bad), int64(len(bad)))
		if err != nil {
			t.Fatalf("damaging a page broke the footer: %v", err)
		}
		var line []byte
		rows := 0
		for {
			line, err = r.Next(line[:0])
			if err != nil {
				break
			}
			rows++
		}
		r.Close()
		if errors.Is(err, io.EOF) {
			t.Errorf("damage at +%d: all %d rows read without error", at, rows)
			continue
		}
		if !strings.Contains(err.Error(), `column "text"`) || !strings.Contains(err.Error(), "row ") {
			t.Errorf("damage at +%d: error %q does not name the column and row", at, err)
		}
		t.Logf("damage at +%d: %v", at, err)
	}
}
