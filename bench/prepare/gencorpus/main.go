// Command gencorpus builds a benchmark corpus of .jsonl.zst shards by
// repeating real documents (the bundled FineWeb-Edu sample and, when
// present, ../shared/data's web-text) until the requested size is reached.
// Every row gets a distinct id; texts repeat.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/winnowlabs/winnow/transforms/shardio"
)

func main() {
	out := flag.String("o", "", "output directory")
	size := flag.Int64("size", 200<<20, "uncompressed bytes to write")
	shards := flag.Int("shards", 24, "number of shards")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		log.Fatal("usage: gencorpus -o DIR [-size BYTES] [-shards N] SOURCE.jsonl[.zst] ...")
	}
	ctx := context.Background()
	var docs []map[string]any
	for _, src := range flag.Args() {
		r, err := shardio.Open(ctx, src)
		if err != nil {
			log.Fatal(err)
		}
		for {
			line, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				log.Fatal(err)
			}
			var d map[string]any
			if err := json.Unmarshal(line, &d); err != nil {
				log.Fatal(err)
			}
			docs = append(docs, d)
		}
		r.Close()
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	perShard := *size / int64(*shards)
	n := 0
	for s := 0; s < *shards; s++ {
		w, err := shardio.Create(ctx, filepath.Join(*out, fmt.Sprintf("shard-%03d.jsonl.zst", s)))
		if err != nil {
			log.Fatal(err)
		}
		for w.Bytes() < perShard {
			d := docs[n%len(docs)]
			d["id"] = fmt.Sprintf("doc-%08d", n)
			n++
			b, err := json.Marshal(d)
			if err != nil {
				log.Fatal(err)
			}
			if err := w.Write(b); err != nil {
				log.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("wrote %d rows in %d shards to %s\n", n, *shards, *out)
}
