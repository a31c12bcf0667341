// Command prepare writes the inputs of bench/fasttext/run.sh: the legal
// annotations as a binary fastText task (see parity.WriteLegalSplit), and a
// prediction corpus of real web documents (FineWeb-2 text, one document per
// line) repeated to a target size.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/winnowlabs/winnow/models/fasttext/parity"
)

func main() {
	shared := flag.String("shared", "../shared/data", "the shared data folder")
	out := flag.String("out", "", "output directory")
	webMB := flag.Int("web-mb", 50, "approximate size of the prediction corpus in MB")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "prepare: -out is required")
		os.Exit(2)
	}
	if err := run(*shared, *out, *webMB); err != nil {
		fmt.Fprintln(os.Stderr, "prepare:", err)
		os.Exit(1)
	}
}

func run(shared, out string, webMB int) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	c, err := parity.WriteLegalSplit(filepath.Join(shared, "fineweb-legal-annotations", "parquet"),
		filepath.Join(out, "legal_train.txt"), filepath.Join(out, "legal_test.txt"))
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "legal: %d rows, %d ids, train %d (%d pos), test %d (%d pos)\n", c.Rows, c.IDs, c.Train, c.TrainPositive, c.Test, c.TestPositive)
	docs, err := webDocuments(filepath.Join(shared, "web-text"))
	if err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(out, "web.txt"))
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	written := 0
	for written < webMB<<20 {
		for _, d := range docs {
			n, _ := w.WriteString(d + "\n")
			written += n
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "web: %d documents repeated to %d bytes\n", len(docs), written)
	return f.Close()
}

// webDocuments reads the "text" of every JSONL row, whitespace collapsed.
func webDocuments(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no JSONL files in %s", dir)
	}
	sort.Strings(files)
	var docs []string
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<26)
		for line := 1; sc.Scan(); line++ {
			var row struct {
				Text string `json:"text"`
			}
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				f.Close()
				return nil, fmt.Errorf("%s:%d: %w", p, line, err)
			}
			if t := strings.Join(strings.Fields(row.Text), " "); t != "" {
				docs = append(docs, t)
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	return docs, nil
}
