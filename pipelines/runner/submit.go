package runner

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
)

// Where the workers of a run are: in this process (LOOPBACK, the local
// runners), in other processes that may be on other machines (a job server's
// PROCESS, EXTERNAL or DOCKER environment), or certainly on other machines
// (Dataflow).

// Distributed reports whether the pipeline's workers run outside this
// process: they then share nothing with it but storage they can reach and
// what the job carries (the worker binary and the pipeline's options).
func Distributed() bool { return !workersInProcess() }

// Remote reports whether the workers are known to run on other machines
// (Dataflow), where a local path never names the same file for them.
func Remote() bool {
	switch Name() {
	case "dataflow", "DataflowRunner":
		return true
	}
	return false
}

// workersInProcess reports whether the workers run in this process: the
// direct runner, prism started here without an environment (it then uses
// LOOPBACK) or any runner told to use LOOPBACK.
func workersInProcess() bool {
	if Remote() {
		return false
	}
	env := strings.ToLower(*jobopts.EnvironmentType)
	switch Name() {
	case "direct", "DirectRunner":
		return true
	case "prism", "PrismRunner":
		if env == "" && (*jobopts.Endpoint == "" || *jobopts.Endpoint == ownEndpoint) {
			return true
		}
	}
	return env == "loopback"
}

// ownWorker is set by StageOwnExecutable.
var ownWorker bool

// StageOwnExecutable declares that the running program is its own Beam
// worker harness (its main runs beam.Init's worker when started with
// --worker, as winnow's does). Run then stages the program itself as the
// worker binary of distributed runs unless --worker_binary names one, so that
// submitting needs neither a Go toolchain nor the program's source. Without
// it Beam compiles a worker binary from the main package's source.
func StageOwnExecutable() { ownWorker = true }

// workerPlatform is the GOOS/GOARCH of the runner's workers: linux/amd64,
// or linux/arm64 on Dataflow's Arm (t2a) machines.
func workerPlatform() string {
	if Remote() {
		for _, name := range []string{"worker_machine_type", "machine_type"} {
			if f := flag.Lookup(name); f != nil && strings.HasPrefix(f.Value.String(), "t2a") {
				return "linux/arm64"
			}
		}
	}
	return "linux/amd64"
}

// setWorkerBinary points --worker_binary at the running executable for a
// distributed run of a program that is its own worker (see
// StageOwnExecutable), when it matches the workers' platform; it fails,
// naming --worker_binary, when it does not.
func setWorkerBinary() error {
	if !ownWorker || !Distributed() || *jobopts.WorkerBinary != "" {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program to stage it as the worker binary (give --worker_binary): %w", err)
	}
	bin, err := ownWorkerBinary(exe, runtime.GOOS+"/"+runtime.GOARCH, workerPlatform())
	if err != nil {
		return err
	}
	*jobopts.WorkerBinary = bin
	return nil
}

// ownWorkerBinary returns exe, built for platform self, as the worker
// binary for workers on platform want, or an error naming --worker_binary.
func ownWorkerBinary(exe, self, want string) (string, error) {
	if self != want {
		return "", fmt.Errorf("this winnow binary is built for %s but %s's workers run %s: "+
			"give --worker_binary a winnow built for them (GOOS=%s GOARCH=%s go build -o winnow-%s ./cmd/winnow)",
			self, Name(), want, strings.Split(want, "/")[0], strings.Split(want, "/")[1], strings.ReplaceAll(want, "/", "-"))
	}
	return exe, nil
}
