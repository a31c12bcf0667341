// Command encoderbench holds winnow's side of the encoder benchmark
// (bench/encoder/run.sh):
//
//	encoderbench texts -n N -o TEXTS.jsonl SHARD...   the first N texts of the shards, as {"text": ...} lines
//	encoderbench score -m MODEL [flags] TEXTS.jsonl   models/encoder's predictor on those texts
//
// score loads the model on the Go backend, runs the texts once untimed
// (compiling every batch shape they need), then times the predictor over
// them: tokenization, length buckets, padded fixed-size batches, outputs in
// input order. It prints "name docs tokens seconds" lines ("load" for the
// loading, "compile" for the first pass, "score" for the timed pass) and,
// with -o, the scores as {"texts": [...], "scores": [[...], ...]}.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/winnowlabs/winnow/models/encoder"
	"github.com/winnowlabs/winnow/models/gomlxbackend"
	"github.com/winnowlabs/winnow/transforms/shardio"
)

func main() {
	log.SetFlags(0)
	if len(os.Args) < 2 {
		log.Fatal("usage: encoderbench texts|score ...")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	n := fs.Int("n", 256, "number of texts")
	out := fs.String("o", "", "output file")
	model := fs.String("m", "", "model directory")
	maxLen := fs.Int("max-length", 0, "truncation (0: the model's)")
	batch := fs.Int("batch", encoder.DefaultBatchSize, "most texts per batch")
	batchTokens := fs.Int("batch-tokens", encoder.DefaultBatchTokens, "most padded tokens per batch")
	buckets := fs.String("buckets", "", `comma-separated bucket lengths ("" for the defaults)`)
	workers := fs.Int("workers", 1, "batches run at once")
	repeat := fs.Int("repeat", 1, "timed passes (the best counts)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed passes to this file")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "texts":
		err = texts(*n, *out, fs.Args())
	case "score":
		opts := encoder.Options{MaxLength: *maxLen, BatchSize: *batch, BatchTokens: *batchTokens, Workers: *workers}
		if opts.Buckets, err = parseInts(*buckets); err == nil {
			err = score(*model, opts, *repeat, fs.Arg(0), *out, *cpuProfile)
		}
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		log.Fatal(err)
	}
}

func parseInts(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("bucket %q: %w", f, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// texts writes the first n texts of the shards.
func texts(n int, out string, shards []string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	count := 0
	for _, p := range shards {
		r, err := shardio.Open(context.Background(), p)
		if err != nil {
			return err
		}
		for count < n {
			line, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			if err := enc.Encode(map[string]string{"text": gjson.GetBytes(line, "text").String()}); err != nil {
				return err
			}
			count++
		}
		r.Close()
	}
	if count < n {
		return fmt.Errorf("the shards hold only %d texts", count)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func readTexts(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	dec := json.NewDecoder(f)
	for {
		var row struct{ Text string }
		if err := dec.Decode(&row); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, row.Text)
	}
}

func score(dir string, opts encoder.Options, repeat int, textsPath, out, cpuProfile string) error {
	texts, err := readTexts(textsPath)
	if err != nil {
		return err
	}
	backend, err := gomlxbackend.Open(gomlxbackend.Default)
	if err != nil {
		return err
	}
	start := time.Now()
	m, err := encoder.Load(dir, backend, opts)
	if err != nil {
		return err
	}
	defer m.Close()
	report("load", 0, 0, time.Since(start))
	tokens := 0
	for _, t := range texts {
		tokens += len(m.Encode(t))
	}
	start = time.Now()
	if _, err := m.Predict(texts); err != nil {
		return err
	}
	report("compile", len(texts), tokens, time.Since(start))
	var best time.Duration
	var scores []float32
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for range repeat {
		start = time.Now()
		if scores, err = m.Predict(texts); err != nil {
			return err
		}
		if d := time.Since(start); best == 0 || d < best {
			best = d
		}
	}
	report("score", len(texts), tokens, best)
	if out == "" {
		return nil
	}
	rows := make([][]float32, len(texts))
	for i := range rows {
		rows[i] = scores[i*m.Dim() : (i+1)*m.Dim()]
	}
	b, err := json.Marshal(map[string]any{"texts": texts, "scores": rows})
	if err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o644)
}

func report(name string, docs, tokens int, d time.Duration) {
	fmt.Printf("%s %d %d %.3f\n", name, docs, tokens, d.Seconds())
}
