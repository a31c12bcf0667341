// Command filterbench holds the reference measurements of the filter
// benchmark (bench/filter/run.sh), each on a given number of goroutines:
//
//	filterbench texts -o TEXTS.txt SHARD...        one text per line (newlines as spaces), for fastText's CLI
//	filterbench trainset -o TRAIN.txt SOURCE...    fastText training lines from FineWeb-Edu rows (score >= 3: pos)
//	filterbench floor -workers N SHARD...          decompress, validate and extract .text: the pipeline's floor
//	filterbench classify -m MODEL -workers N TEXTS.txt   the classifier alone, on texts held in memory
//
// Each measurement prints one line "name rows bytes seconds"; classify
// also prints the model's loading time as "load 0 0 seconds".
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bytedance/sonic/ast"
	"github.com/tidwall/gjson"

	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardio"
)

func main() {
	log.SetFlags(0)
	if len(os.Args) < 2 {
		log.Fatal("usage: filterbench texts|trainset|floor|classify ...")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	out := fs.String("o", "", "output file")
	workers := fs.Int("workers", 2, "goroutines")
	model := fs.String("m", "", "model")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "texts":
		err = texts(*out, fs.Args())
	case "trainset":
		err = trainset(*out, fs.Args())
	case "floor":
		err = floor(*workers, fs.Args())
	case "classify":
		err = classify(*model, *workers, fs.Arg(0))
	default:
		err = fmt.Errorf("unknown measurement %q", os.Args[1])
	}
	if err != nil {
		log.Fatal(err)
	}
}

// eachRow calls fn with every row of the shards, in order.
func eachRow(paths []string, fn func([]byte) error) error {
	for _, p := range paths {
		r, err := shardio.Open(context.Background(), p)
		if err != nil {
			return err
		}
		for {
			line, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			if err := fn(line); err != nil {
				return err
			}
		}
		r.Close()
	}
	return nil
}

func writeLines(path string, fill func(w *bufio.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := fill(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func texts(out string, shards []string) error {
	return writeLines(out, func(w *bufio.Writer) error {
		return eachRow(shards, func(row []byte) error {
			w.WriteString(strings.ReplaceAll(gjson.GetBytes(row, "text").Str, "\n", " "))
			return w.WriteByte('\n')
		})
	})
}

func trainset(out string, sources []string) error {
	return writeLines(out, func(w *bufio.Writer) error {
		return eachRow(sources, func(row []byte) error {
			label := "neg"
			if gjson.GetBytes(row, "scores.score").Float() >= 3 {
				label = "pos"
			}
			fmt.Fprintf(w, "__label__%s %s\n", label, strings.Join(strings.Fields(gjson.GetBytes(row, "text").Str), " "))
			return nil
		})
	})
}

// floor reads the shards on workers goroutines (one shard at a time each):
// decompression, JSON validation and locating the text, as the pipeline
// does for every row before classification.
func floor(workers int, shards []string) error {
	start := time.Now()
	var count, bytes atomic.Int64
	err := parallel(workers, len(shards), func(i int) error {
		return eachRow(shards[i:i+1], func(row []byte) error {
			if err := rows.New(row, shards[i], 0).Validate(); err != nil {
				return fmt.Errorf("%s: %w", shards[i], err)
			}
			s := ast.NewSearcher(string(row))
			s.ValidateJSON = false
			n, err := s.GetByPath("text")
			if err != nil || n.TypeSafe() != ast.V_STRING {
				return fmt.Errorf("%s: a row without text", shards[i])
			}
			count.Add(1)
			bytes.Add(int64(len(row) + 1))
			return nil
		})
	})
	report("floor", count.Load(), bytes.Load(), time.Since(start))
	return err
}

// classify runs the classifier on every line of a texts file, held in
// memory, on workers goroutines.
func classify(model string, workers int, path string) error {
	start := time.Now()
	clf, err := models.Load(context.Background(), model, models.LoadOptions{})
	if err != nil {
		return err
	}
	fmt.Printf("load 0 0 %.3f\n", time.Since(start).Seconds())
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	start = time.Now()
	const chunk = 256
	err = parallel(workers, (len(lines)+chunk-1)/chunk, func(i int) error {
		batch := lines[i*chunk : min(len(lines), (i+1)*chunk)]
		out := make([]models.Prediction, len(batch))
		return clf.Predict(batch, out)
	})
	report("classify", int64(len(lines)), int64(len(b)), time.Since(start))
	return err
}

// parallel runs fn(0..n-1) on workers goroutines.
func parallel(workers, n int, fn func(int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := fn(i); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func report(name string, rows, bytes int64, d time.Duration) {
	fmt.Printf("%s %d %d %.3f\n", name, rows, bytes, d.Seconds())
}
