package parity

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// legalRow is the part of a legal-annotation row the comparison uses.
type legalRow struct {
	ID    string `parquet:"id"`
	Score int64  `parquet:"score"`
	Text  string `parquet:"text"`
}

// LegalCounts describes the files written by WriteLegalSplit.
type LegalCounts struct {
	Rows, IDs                   int
	Train, Test                 int
	TrainPositive, TestPositive int
}

// WriteLegalSplit turns the FineWeb legal annotations (Parquet files in
// dir: id, score 0-5, text, ...) into fastText training and test files:
//
//   - one example per id: some pages were annotated several times, with
//     different scores; the example takes the mean of its scores;
//   - label __label__pos when that mean is at least 3, else __label__neg;
//   - 80% of the ids go to train, 20% to test, by the first 8 bytes of the
//     SHA-256 of the id (stable, independent of file order);
//   - line breaks (and other whitespace runs) in the text become single
//     spaces, since fastText reads one example per line;
//   - lines are sorted by id hash, so both files are deterministic.
func WriteLegalSplit(dir, trainPath, testPath string) (LegalCounts, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.parquet"))
	if err != nil {
		return LegalCounts{}, err
	}
	if len(files) == 0 {
		return LegalCounts{}, fmt.Errorf("no Parquet files in %s", dir)
	}
	sort.Strings(files)
	type agg struct {
		text       string
		sum, count int64
		key        uint64
	}
	byID := map[string]*agg{}
	var c LegalCounts
	for _, f := range files {
		rows, err := parquet.ReadFile[legalRow](f)
		if err != nil {
			return c, fmt.Errorf("read %s: %w", f, err)
		}
		for i, r := range rows {
			if r.ID == "" {
				return c, fmt.Errorf("%s: row %d has no id", f, i)
			}
			if r.Score < 0 || r.Score > 5 {
				return c, fmt.Errorf("%s: row %d (id %s): score %d outside 0-5", f, i, r.ID, r.Score)
			}
			c.Rows++
			a := byID[r.ID]
			if a == nil {
				sum := sha256.Sum256([]byte(r.ID))
				a = &agg{text: strings.Join(strings.Fields(r.Text), " "), key: binary.BigEndian.Uint64(sum[:8])}
				byID[r.ID] = a
			}
			a.sum += r.Score
			a.count++
		}
	}
	c.IDs = len(byID)
	all := make([]*agg, 0, len(byID))
	for _, a := range byID {
		all = append(all, a)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].key < all[j].key })
	train, err := os.Create(trainPath)
	if err != nil {
		return c, err
	}
	defer train.Close()
	test, err := os.Create(testPath)
	if err != nil {
		return c, err
	}
	defer test.Close()
	tw, sw := bufio.NewWriter(train), bufio.NewWriter(test)
	for _, a := range all {
		if a.text == "" {
			continue
		}
		label := "neg"
		pos := a.sum >= 3*a.count // mean score at least 3
		if pos {
			label = "pos"
		}
		w := tw
		if a.key%100 >= 80 {
			w = sw
			c.Test++
			if pos {
				c.TestPositive++
			}
		} else {
			c.Train++
			if pos {
				c.TrainPositive++
			}
		}
		fmt.Fprintf(w, "__label__%s %s\n", label, a.text)
	}
	if err := tw.Flush(); err != nil {
		return c, err
	}
	if err := sw.Flush(); err != nil {
		return c, err
	}
	if err := train.Close(); err != nil {
		return c, err
	}
	return c, test.Close()
}
