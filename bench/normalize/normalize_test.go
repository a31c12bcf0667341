package normalize

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/text/encoding/charmap"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/transforms/normalize"
)

// corpus returns real web documents: FineWeb-Edu (English) and FineWeb-2
// (Spanish, German, Norwegian, Serbian Cyrillic), about 3 MB.
func corpus(b *testing.B) []string {
	b.Helper()
	sources := []struct {
		rel string
		n   int
	}{
		{"fineweb-edu-llama3-sample/train.jsonl", 300},
		{"web-text/spa_Latn_sampled_500k_0_to_600.jsonl", 100},
		{"web-text/deu_Latn_sampled_500k_first200.jsonl", 100},
		{"web-text/nob_Latn_sampled_500k_first200.jsonl", 100},
		{"web-text/srp_Cyrl_sampled_500k_0_to_600.jsonl", 100},
	}
	var docs []string
	for _, s := range sources {
		f, err := os.Open(testutil.SharedData(b, s.rel))
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<24)
		for n := 0; n < s.n && sc.Scan(); n++ {
			var row struct{ Text string }
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				b.Fatal(err)
			}
			docs = append(docs, row.Text)
		}
		f.Close()
	}
	return docs
}

// mojibake returns docs with their UTF-8 read as Windows-1252.
func mojibake(b *testing.B, docs []string) []string {
	dec := charmap.Windows1252.NewDecoder()
	out := make([]string, len(docs))
	for i, d := range docs {
		s, err := dec.String(d)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = s
	}
	return out
}

func run(b *testing.B, n normalize.Normalizer, docs []string) {
	total := 0
	for _, d := range docs {
		total += len(d)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, d := range docs {
			_ = n.Normalize(d)
		}
	}
}

// BenchmarkNormalize measures each normalizer on one goroutine: with
// -cpu 1 the reported MB/s is the throughput of one core.
func BenchmarkNormalize(b *testing.B) {
	docs := corpus(b)
	tok := filepath.Join(testutil.SharedData(b, "tokenizers/bert-base-uncased"), "tokenizer.json")
	for _, name := range normalize.Names() {
		n, err := normalize.New(name, normalize.Options{Tokenizer: tok})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) { run(b, n, docs) })
	}
	// plsfix on text that needs repairing everywhere.
	n, err := normalize.New(normalize.Plsfix, normalize.Options{})
	if err != nil {
		b.Fatal(err)
	}
	broken := mojibake(b, docs)
	b.Run("plsfix-on-mojibake", func(b *testing.B) { run(b, n, broken) })
}
