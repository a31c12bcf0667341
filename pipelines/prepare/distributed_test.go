package prepare

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

// Files downloaded into the Hub cache are on this machine's disk: fine for
// workers in this process, a warning for a job server's workers, an error
// for Dataflow's.
func TestHubCacheOnADistributedRunner(t *testing.T) {
	set := func(name, value string) {
		old := flag.Lookup(name).Value.String()
		if err := flag.Set(name, value); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { flag.Set(name, old) })
	}
	var log bytes.Buffer
	if err := hubCacheReachable("/home/u/.cache/huggingface/hub/datasets--a--b", &log); err != nil || log.Len() != 0 {
		t.Fatalf("local run: %v, %q", err, log.String())
	}
	set("runner", "universal")
	set("endpoint", "localhost:8099")
	set("environment_type", "EXTERNAL")
	if err := hubCacheReachable("/cache/datasets--a--b", &log); err != nil || !strings.Contains(log.String(), "warning: the Hub dataset is read from /cache/datasets--a--b") {
		t.Errorf("job server: %v, %q", err, log.String())
	}
	set("runner", "dataflow")
	err := hubCacheReachable("/cache/datasets--a--b", &log)
	if err == nil || !strings.Contains(err.Error(), "which dataflow's workers do not see") {
		t.Errorf("dataflow: %v", err)
	}
}
