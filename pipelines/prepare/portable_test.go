package prepare

import (
	"context"
	"flag"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"

	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/pipelines/runner"
	"github.com/winnowlabs/winnow/transforms/rows"
)

// TestPortableSubmission submits a pipeline the way Flink and Spark job
// servers receive one: --runner=universal --endpoint=HOST:PORT with a
// LOOPBACK environment, here against a standalone prism job server.
func TestPortableSubmission(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := prism.CreateJobServer(ctx, prism.Options{Port: port}); err != nil {
		t.Fatal(err)
	}
	set := func(name, value string) {
		old := flag.Lookup(name).Value.String()
		if err := flag.Set(name, value); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { flag.Set(name, old) })
	}
	set("runner", "universal")
	set("endpoint", fmt.Sprintf("localhost:%d", port))
	set("environment_type", "LOOPBACK")
	if runner.IsLocal() {
		t.Fatal("a universal runner counts as local")
	}
	out := t.TempDir()
	done := make(chan error, 1)
	go func() {
		res, err := Transform(ctx, TransformOptions{
			Common:        mapstep.Common{Inputs: []string{bundled(t)}, Output: out, Quiet: true},
			TransformArgs: rows.TransformArgs{LabelTransform: binarize},
		})
		if err == nil && res.Manifest.Totals.RowsOut != 2000 {
			err = fmt.Errorf("totals %+v", res.Manifest.Totals)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("portable run did not finish")
	}
}
