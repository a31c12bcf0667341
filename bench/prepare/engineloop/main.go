// Command engineloop does the work of `winnow transform` on winnow's shard
// engine without Beam: the same jq transform, the same engine (row batches
// on a shared worker pool, output in input order), as many shards at once
// as the engine has workers, as winnow's Beam step runs them. Between the
// plain loop and `winnow transform`, it tells what the engine changes from
// the plain loop and what Beam, prism and the command add to the engine.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync"
	"sync/atomic"

	"github.com/winnowlabs/winnow/bench/prepare/transformjob"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardmap"
)

func main() {
	job, err := transformjob.Parse()
	if err != nil {
		log.Fatal(err)
	}
	eng := shardmap.NewEngine(0)
	work := shardmap.Work{Ops: []rows.Op{job.Op}}
	slots := make(chan struct{}, eng.Workers())
	var (
		wg           sync.WaitGroup
		nrows, bytes atomic.Int64
	)
	for _, f := range job.Shards {
		st, err := os.Stat(f)
		if err != nil {
			log.Fatal(err)
		}
		task := shardmap.Task{Input: f, InputSize: st.Size(), Output: job.Output(f)}
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
