package fasttext

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestSparseFile writes data with runs of zero blocks (aligned and not,
// through writes of every size) and checks that the file reads back the
// same and that the zero runs took no disk space.
func TestSparseFile(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	data := make([]byte, 0, 3<<20)
	data = append(data, "header"...)
	for len(data) < 3<<20 {
		n := 1 + r.IntN(5*sparseBlock)
		if r.IntN(3) == 0 {
			chunk := make([]byte, n)
			for i := range chunk {
				chunk[i] = byte(r.IntN(256))
			}
			data = append(data, chunk...)
		} else {
			data = append(data, make([]byte, 40*n)...)
		}
	}
	data = append(data, make([]byte, 10*sparseBlock+17)...) // ends in zeros
	path := filepath.Join(t.TempDir(), "sparse")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	s := &sparseFile{f: f}
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1+r.IntN(3*sparseBlock))
		if r.IntN(10) == 0 {
			n = min(len(rest), 1<<20)
		}
		if w, err := s.Write(rest[:n]); err != nil || w != n {
			t.Fatalf("write %d bytes: wrote %d, %v", n, w, err)
		}
		rest = rest[n:]
	}
	if err := s.finish(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	back, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, data) {
		t.Fatalf("read back %d bytes differing from the %d written", len(back), len(data))
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	allocated, ok := allocatedBytes(info)
	if !ok {
		t.Skip("no block counts on this system")
	}
	if allocated > int64(len(data))/2 {
		t.Errorf("%d bytes allocated for %d bytes of mostly zeros", allocated, len(data))
	}
}
