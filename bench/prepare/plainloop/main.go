// Command plainloop does the work of `winnow transform` without Beam: a
// pool of GOMAXPROCS goroutines, each taking whole shards, reading and
// decompressing them, applying the same jq transform to every row and
// writing zstd-compressed output. It is the baseline the Beam pipeline is
// compared with.
package main

import (
	"context"
	"fmt"
	"log"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/winnowlabs/winnow/bench/prepare/transformjob"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardio"
)

func main() {
	job, err := transformjob.Parse()
	if err != nil {
		log.Fatal(err)
	}
	jobs := make(chan string)
	var wg sync.WaitGroup
	var nrows, nbytes atomic.Int64
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				r, b, err := transform(f, job.Output(f), job.Op)
				if err != nil {
					log.Fatal(err)
				}
				nrows.Add(r)
				nbytes.Add(b)
			}
		}()
	}
	for _, f := range job.Shards {
		jobs <- f
	}
	close(jobs)
	wg.Wait()
	fmt.Printf("plain loop: %d rows, %d bytes\n", nrows.Load(), nbytes.Load())
}

func transform(in, out string, op rows.Op) (int64, int64, error) {
	ctx := context.Background()
	w, err := shardio.Create(ctx, out)
	if err != nil {
		return 0, 0, err
	}
	defer w.Abort()
	var n, bytes int64
	err = shardio.Each(ctx, in, func(line []byte, lineNo int64) error {
		n++
		bytes += int64(len(line)) + 1
		row := rows.New(line, in, lineNo)
		keep, err := op.Apply(row)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", in, lineNo, err)
		}
		if !keep {
			return nil
		}
		b, err := row.Encode()
		if err != nil {
			return err
		}
		return w.Write(b)
	})
	if err != nil {
		return 0, 0, err
	}
	return n, bytes, w.Commit()
}
