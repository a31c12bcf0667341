package annotate

import (
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

// The default cache directory is on this machine's disk: on a distributed
// runner a shared one must be given.
func TestCacheDirOnADistributedRunner(t *testing.T) {
	o := testOptions("http://127.0.0.1:1/v1", "in", "out", "")
	if _, err := o.config(); err != nil {
		t.Fatalf("local run with the default cache: %v", err)
	}
	testutil.SetFlag(t, "runner", "universal")
	testutil.SetFlag(t, "endpoint", "localhost:8099")
	testutil.SetFlag(t, "environment_type", "EXTERNAL")
	if _, err := o.config(); err == nil || !strings.Contains(err.Error(), "no cache directory given: universal's workers need one they share") {
		t.Errorf("distributed run without a cache directory: %v", err)
	}
	o.CacheDir = "gs://bucket/cache"
	if _, err := o.config(); err != nil {
		t.Errorf("distributed run with a cache on gs://: %v", err)
	}
}
