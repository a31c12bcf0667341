package fasttext

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

// trainingLines returns labelled lines made from the synthetic oracle's
// sentences.
func trainingLines(t *testing.T) []string {
	t.Helper()
	var models []struct {
		Cases []oracleCase `json:"cases"`
	}
	testutil.ReadJSON(t, syntheticPath(t, "synthetic_oracle.json"), &models)
	var lines []string
	for _, m := range models {
		for _, c := range m.Cases {
			lines = append(lines, c.Labels[0]+" "+c.Text)
		}
	}
	return lines
}

// TestLineSourceMatchesFile checks that a thread reading through the line
// cache sees the same examples, in the same order, as one reading the file
// the C++ way, from any starting offset (line starts, mid-word, on a
// newline), with and without a final newline, and across the wrap-around.
func TestLineSourceMatchesFile(t *testing.T) {
	lines := trainingLines(t)
	lines[3] += " </s> after a literal end-of-sentence token"
	for _, final := range []string{"\n", ""} {
		path := filepath.Join(t.TempDir(), "train.txt")
		text := strings.Join(lines, "\n") + final
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		a := DefaultArgs()
		a.WordNgrams, a.Bucket = 2, 1000
		d := newDictionary(&a)
		f, _ := os.Open(path)
		if err := d.readFrom(f, 1, 0); err != nil {
			t.Fatal(err)
		}
		f.Close()
		cache, err := buildLineCache(d, path, 1<<30)
		if err != nil || cache == nil {
			t.Fatalf("cache: %v", err)
		}
		if cache.lines() != len(lines)+1 { // the literal </s> splits a line
			t.Fatalf("cache has %d lines, want %d", cache.lines(), len(lines)+1)
		}
		for _, pos := range []int64{0, 1, 17, int64(len(lines[0])), int64(len(lines[0]) + 1), int64(len(text) / 2), int64(len(text) - 3)} {
			withCache, err1 := newLineSource(d, cache, path, pos)
			fromFile, err2 := newLineSource(d, nil, path, pos)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			for n := 0; n < 3*len(lines); n++ {
				ids1, lab1, nt1, err := withCache.read()
				if err != nil {
					t.Fatal(err)
				}
				ids2, lab2, nt2, err := fromFile.read()
				if err != nil {
					t.Fatal(err)
				}
				if nt2 == 0 && len(ids2) == 0 && len(lab2) == 0 {
					// The file reader's empty read at the end of the file.
					if ids2, lab2, nt2, err = fromFile.read(); err != nil {
						t.Fatal(err)
					}
				}
				if nt1 != nt2 || !slices.Equal(ids1, ids2) || !slices.Equal(lab1, lab2) {
					t.Fatalf("final %q, start %d, line %d: cache gives %v %v %d, file gives %v %v %d", final, pos, n, ids1, lab1, nt1, ids2, lab2, nt2)
				}
			}
			withCache.close()
			fromFile.close()
		}
	}
}
