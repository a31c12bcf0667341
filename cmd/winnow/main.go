// Command winnow builds cheap text-quality classifiers from LLM judgements and
// uses them to filter pretraining corpora, as Apache Beam pipelines that run
// locally on prism or on Dataflow, Flink and Spark.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/winnowlabs/winnow/internal/hugeheap"
	"github.com/winnowlabs/winnow/pipelines/runner"
)

func main() {
	// First, while the heap is fresh (see hugeheap.Reserve).
	hugeheap.Reserve(hugeheap.DefaultSize())
	// A runner starts this same binary as a worker harness (--worker plus
	// endpoints); that invocation speaks Beam's flags, not the CLI's.
	if isWorkerInvocation(os.Args[1:]) {
		flag.Parse()
		beam.Init()
		return
	}
	// On a distributed runner this binary is staged as the workers' binary.
	runner.StageOwnExecutable()
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "winnow:", err)
		os.Exit(1)
	}
}

func isWorkerInvocation(args []string) bool {
	for _, a := range args {
		if a == "--worker" || a == "-worker" || strings.HasPrefix(a, "--worker=") || strings.HasPrefix(a, "-worker=") {
			return true
		}
	}
	return false
}
