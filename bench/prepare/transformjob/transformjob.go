// Package transformjob reads the command line that the prepare benchmark's
// baseline programs share: the input shards, the output directory and the
// jq transform that `winnow transform -t ... -l ...` would apply.
package transformjob

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/winnowlabs/winnow/internal/hugeheap"
	"github.com/winnowlabs/winnow/transforms/rows"
)

// Job is one run's work.
type Job struct {
	// Shards are the input .jsonl.zst files.
	Shards []string
	// Out is the output directory, created.
	Out string
	// Op is the transform.
	Op rows.Op
}

// Output returns the output path of the input shard in.
func (j Job) Output(in string) string { return filepath.Join(j.Out, filepath.Base(in)) }

// Parse reads -i, -o, -text-transform and -label-transform from the
// command line and prepares the job. With -huge-heap the heap goes on
// transparent huge pages first, as in the winnow command.
func Parse() (Job, error) {
	in := flag.String("i", "", "input directory of .jsonl.zst shards")
	out := flag.String("o", "", "output directory")
	text := flag.String("text-transform", "", "jq text transform")
	label := flag.String("label-transform", "", "jq label transform")
	hugeHeap := flag.Bool("huge-heap", false, "put the heap on transparent huge pages, as winnow does")
	flag.Parse()
	if *hugeHeap {
		hugeheap.Reserve(hugeheap.DefaultSize())
	}
	op, err := rows.NewTransform(rows.TransformArgs{TextTransform: *text, LabelTransform: *label})
	if err != nil {
		return Job{}, err
	}
	shards, err := filepath.Glob(filepath.Join(*in, "*.jsonl.zst"))
	if err != nil || len(shards) == 0 {
		return Job{}, fmt.Errorf("no shards in %s", *in)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return Job{}, err
	}
	return Job{Shards: shards, Out: *out, Op: op}, nil
}
