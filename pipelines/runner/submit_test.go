package runner

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"

	"github.com/winnowlabs/winnow/internal/testutil"
)

func TestDistributed(t *testing.T) {
	for _, c := range []struct {
		runner, endpoint, env string
		distributed, remote   bool
	}{
		{"", "", "", false, false},
		{"prism", "", "", false, false},
		{"prism", "", "EXTERNAL", true, false},
		{"prism", "localhost:8073", "", true, false},
		{"universal", "localhost:8099", "LOOPBACK", false, false},
		{"universal", "localhost:8099", "loopback", false, false},
		{"universal", "localhost:8099", "EXTERNAL", true, false},
		{"flink", "localhost:8099", "DOCKER", true, false},
		{"spark", "localhost:8099", "PROCESS", true, false},
		{"dataflow", "", "", true, true},
		{"dataflow", "", "LOOPBACK", true, true},
		{"direct", "", "", false, false},
	} {
		testutil.SetFlag(t, "runner", c.runner)
		testutil.SetFlag(t, "endpoint", c.endpoint)
		testutil.SetFlag(t, "environment_type", c.env)
		if got := Distributed(); got != c.distributed {
			t.Errorf("%+v: Distributed() = %v", c, got)
		}
		if got := Remote(); got != c.remote {
			t.Errorf("%+v: Remote() = %v", c, got)
		}
		if c.distributed && IsLocal() {
			t.Errorf("%+v: a distributed run counts as local", c)
		}
	}
}

// A program that is its own worker stages itself on a distributed run,
// keeps a --worker_binary it was given, and stages nothing for a local run.
func TestSetWorkerBinary(t *testing.T) {
	defer func(old bool) { ownWorker = old }(ownWorker)
	ownWorker = true
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	testutil.SetFlag(t, "worker_binary", "")
	testutil.SetFlag(t, "runner", "universal")
	testutil.SetFlag(t, "environment_type", "LOOPBACK")
	if err := setWorkerBinary(); err != nil || *jobopts.WorkerBinary != "" {
		t.Fatalf("loopback: %q, %v", *jobopts.WorkerBinary, err)
	}
	testutil.SetFlag(t, "environment_type", "EXTERNAL")
	if err := setWorkerBinary(); err != nil || *jobopts.WorkerBinary != exe {
		t.Fatalf("external: %q, %v; want %s", *jobopts.WorkerBinary, err, exe)
	}
	testutil.SetFlag(t, "worker_binary", "/opt/winnow-linux-amd64")
	if err := setWorkerBinary(); err != nil || *jobopts.WorkerBinary != "/opt/winnow-linux-amd64" {
		t.Fatalf("given: %q, %v", *jobopts.WorkerBinary, err)
	}

	// Dataflow's Arm machines need an arm64 binary.
	testutil.SetFlag(t, "worker_binary", "")
	testutil.SetFlag(t, "runner", "dataflow")
	testutil.SetFlag(t, "worker_machine_type", "t2a-standard-4")
	err = setWorkerBinary()
	if runtime.GOOS+"/"+runtime.GOARCH != "linux/arm64" &&
		(err == nil || !strings.Contains(err.Error(), "--worker_binary") || !strings.Contains(err.Error(), "GOOS=linux GOARCH=arm64")) {
		t.Fatalf("t2a workers: %v", err)
	}
}

func TestOwnWorkerBinary(t *testing.T) {
	if bin, err := ownWorkerBinary("/usr/local/bin/winnow", "linux/amd64", "linux/amd64"); err != nil || bin != "/usr/local/bin/winnow" {
		t.Errorf("same platform: %q, %v", bin, err)
	}
	_, err := ownWorkerBinary("/usr/local/bin/winnow", "darwin/arm64", "linux/amd64")
	if err == nil || !strings.Contains(err.Error(), "built for darwin/arm64") || !strings.Contains(err.Error(), "--worker_binary") ||
		!strings.Contains(err.Error(), "GOOS=linux GOARCH=amd64 go build -o winnow-linux-amd64 ./cmd/winnow") {
		t.Errorf("a macOS binary: %v", err)
	}
}
