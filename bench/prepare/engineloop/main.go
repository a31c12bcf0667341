// Command engineloop does the work of `winnow transform` on winnow's shard
// engine without Beam: the same jq transform, the same engine (row batches
// on a shared worker pool, output in input order), as many shards at once
// as the engine has workers, as winnow's Beam step runs them. Between the
// plain loop and `winnow transform`, it tells what the engine changes from
// the plain loop and what Beam, prism and the command add to the engine.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardmap"
)

func main() {
	in := flag.String("i", "", "input directory of .jsonl.zst shards")
	out := flag.String("o", "", "output directory")
	text := flag.String("text-transform", "", "jq text transform")
	label := flag.String("label-transform", "", "jq label transform")
	flag.Parse()
	op, err := rows.NewTransform(rows.TransformArgs{TextTransform: *text, LabelTransform: *label})
	if err != nil {
		log.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(*in, "*.jsonl.zst"))
	if err != nil || len(files) == 0 {
		log.Fatalf("no shards in %s", *in)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	eng := shardmap.NewEngine(0)
	work := shardmap.Work{Ops: []rows.Op{op}}
	slots := make(chan struct{}, eng.Workers())
	var (
		wg           sync.WaitGroup
		nrows, bytes atomic.Int64
	)
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			log.Fatal(err)
		}
		task := shardmap.Task{Input: f, InputSize: st.Size(), Output: filepath.Join(*out, filepath.Base(f))}
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			res, err := eng.Run(context.Background(), task, work, shardmap.Policy{})
			if err != nil {
				log.Fatal(err)
			}
			nrows.Add(res.RowsIn)
			bytes.Add(res.BytesIn)
		}()
	}
	wg.Wait()
	fmt.Printf("engine loop: %d rows, %d bytes\n", nrows.Load(), bytes.Load())
}
