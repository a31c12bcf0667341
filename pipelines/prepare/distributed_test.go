package prepare

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// Files downloaded into the Hub cache are on this machine's disk: fine for
// workers in this process, a warning for a job server's workers, an error
// for Dataflow's.
func TestHubCacheOnADistributedRunner(t *testing.T) {
	var log bytes.Buffer
	if err := hubCacheReachable("/home/u/.cache/huggingface/hub/datasets--a--b", &log); err != nil || log.Len() != 0 {
		t.Fatalf("local run: %v, %q", err, log.String())
	}
	testutil.SetFlag(t, "runner", "universal")
	testutil.SetFlag(t, "endpoint", "localhost:8099")
	testutil.SetFlag(t, "environment_type", "EXTERNAL")
	if err := hubCacheReachable("/cache/datasets--a--b", &log); err != nil || !strings.Contains(log.String(), "warning: the Hub dataset is read from /cache/datasets--a--b") {
		t.Errorf("job server: %v, %q", err, log.String())
	}
	testutil.SetFlag(t, "runner", "dataflow")
	err := hubCacheReachable("/cache/datasets--a--b", &log)
	if err == nil || !strings.Contains(err.Error(), "which dataflow's workers do not see") {
		t.Errorf("dataflow: %v", err)
	}
}

// A tokenizer on an object store stays there: the workers read it.
func TestPlannedNormalizerWithARemoteTokenizer(t *testing.T) {
	ctx := context.Background()
	b, err := os.ReadFile(testutil.BertTokenizer(t))
	if err != nil {
		t.Fatal(err)
	}
	remote := "memfs://" + t.Name() + "/tokenizer.json"
	if err := storage.WriteFile(ctx, remote, b); err != nil {
		t.Fatal(err)
	}
	spec, err := plannedNormalizer("ultrafine", remote)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Tokenizer != remote || spec.TokenizerHash == "" {
		t.Errorf("spec %+v, want the tokenizer at %s", spec, remote)
	}
}
