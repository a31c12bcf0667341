//go:build linux

// Package cluster runs winnow the way a cluster does, on one machine: a
// prism job server, and workers in processes of their own started through
// the Beam Go SDK's boot program (github.com/apache/beam/sdks/v2/go/container)
// by an EXTERNAL worker pool, each in its own working directory with its own
// TMPDIR. The pipelines are submitted by a winnow binary built from this
// module, which stages itself as the worker binary, as a released binary
// does on Dataflow, Flink or Spark. Workers share nothing with the
// submitting process but what the job carries and the storage both reach
// (in tests, a fake GCS server on loopback: see fakecloud).
//
// The worker pool is this package's implementation of Beam's external
// worker pool service (what boot --worker_pool serves): it starts each
// worker by running boot, as a container's entrypoint does, in a process
// group of its own, and stops the whole group when the runner stops the
// worker. prism gives a job one worker per environment; the pool runs that
// worker as several processes (Options.Workers, default 2), sharing
// nothing but storage, behind a bundle router that presents itself to
// prism as the one worker, as a distributed runner's worker manager does:
// one control and one data stream to prism; each bundle goes to one
// process (the one with the fewest bundles in progress when the bundle is
// first seen), and its data, progress, split and finalize requests follow
// it; monitoring short ids are renamed per process; state and logging
// streams go to prism one for one. prism splits a slow bundle, and the
// split-off part, a new bundle, goes to the other process, so a multi-shard
// step's shards spread over the processes as they do over the SDK
// harnesses of Flink, Spark or Dataflow. A process that dies fails the
// instructions it holds, and prism then fails the job, as it does when its
// single worker dies. Every job gets fresh processes; JobStats counts
// their bundles.
package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"google.golang.org/grpc"
)

// Cluster is a prism job server and an EXTERNAL worker pool.
type Cluster struct {
	// Winnow is the winnow binary that submits pipelines (and is staged as
	// their worker binary); Boot is the SDK's boot program.
	Winnow, Boot string
	// JobServer is the job server's address, HOST:PORT.
	JobServer string
	// Pool is the worker pool's address, HOST:PORT.
	Pool string
	// Dir holds a directory for each job's workers (job-*, with a
	// worker-* directory for each process, each with its own tmp/ and
	// worker.log, and the router's router.log) and the submitter's
	// (driver-*).
	Dir string

	pool *workerPool
	// workerHash identifies copies of Winnow that boot leaves in /tmp.
	workerHash [sha256.Size]byte
	workerSize int64
}

// Build compiles the winnow command and the SDK's boot program into dir.
func Build(t testing.TB, dir string) (winnow, boot string) {
	t.Helper()
	winnow, boot = filepath.Join(dir, "winnow"), filepath.Join(dir, "boot")
	for _, b := range []struct{ out, pkg string }{
		{winnow, "github.com/winnowlabs/winnow/cmd/winnow"},
		{boot, "github.com/apache/beam/sdks/v2/go/container"},
	} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		// Workers run linux/amd64 binaries without cgo, like a release.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("cluster: build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return winnow, boot
}

// Options configures a Cluster.
type Options struct {
	// Workers is the number of worker processes that run each job's
	// bundles (0 means 2). With more than one, a bundle router stands
	// between prism and the processes (see the package documentation).
	Workers int
}

// Start starts a prism job server and a worker pool whose workers run boot
// (see Build) in directories under t.TempDir(); both stop at cleanup. It
// skips the test where the workers' platform (linux/amd64) is not this one.
func Start(t testing.TB, winnow, boot string, opts Options) *Cluster {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("cluster: workers run linux/amd64, this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	c := &Cluster{Winnow: winnow, Boot: boot, Dir: t.TempDir()}
	if err := c.hashWorker(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	port := freePort(t)
	if _, err := prism.CreateJobServer(ctx, prism.Options{Port: port}); err != nil {
		t.Fatalf("cluster: start the job server: %v", err)
	}
	c.JobServer = fmt.Sprintf("127.0.0.1:%d", port)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Workers == 0 {
		opts.Workers = 2
	}
	p := &workerPool{boot: boot, dir: c.Dir, procs: opts.Workers, jobs: map[string]*job{}}
	srv := grpc.NewServer()
	fnpb.RegisterBeamFnExternalWorkerPoolServer(srv, p)
	go srv.Serve(l)
	t.Cleanup(func() {
		srv.Stop()
		p.stopAll()
	})
	c.pool = p
	c.Pool = l.Addr().String()
	t.Cleanup(c.removeWorkerCopies)
	return c
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// RunnerArgs are the Beam flags that submit a pipeline to the cluster.
func (c *Cluster) RunnerArgs() []string {
	return []string{
		"--runner=universal",
		"--endpoint=" + c.JobServer,
		"--environment_type=EXTERNAL",
		"--environment_config=" + c.Pool,
	}
}

// Result is a finished winnow command.
type Result struct {
	Stdout, Stderr string
	Err            error
	// CPU is the user and system time of the winnow process (with a local
	// runner, of its workers too).
	CPU time.Duration
	// Jobs are the jobs that ran on the cluster's workers meanwhile, in
	// the order they ended (none with one worker process per job).
	Jobs []JobStats
}

// Run runs winnow with args on the cluster, from a working directory and
// TMPDIR of its own, and waits for it (at most timeout).
func (c *Cluster) Run(t testing.TB, timeout time.Duration, args ...string) Result {
	t.Helper()
	return c.run(t, timeout, append(args, c.RunnerArgs()...))
}

// RunLocal runs winnow with args on its local runner (workers inside the
// winnow process), for comparison.
func (c *Cluster) RunLocal(t testing.TB, timeout time.Duration, args ...string) Result {
	t.Helper()
	return c.run(t, timeout, args)
}

var driverSeq struct {
	sync.Mutex
	n int
}

// command returns winnow with args, to run from a working directory and
// TMPDIR of its own, its output going to stdout and stderr.
func (c *Cluster) command(ctx context.Context, t testing.TB, args []string, stdout, stderr *bytes.Buffer) *exec.Cmd {
	t.Helper()
	driverSeq.Lock()
	driverSeq.n++
	dir := filepath.Join(c.Dir, "driver-"+strconv.Itoa(driverSeq.n))
	driverSeq.Unlock()
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, c.Winnow, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+filepath.Join(dir, "tmp"))
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd
}

func (c *Cluster) run(t testing.TB, timeout time.Duration, args []string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := c.command(ctx, t, args, &stdout, &stderr)
	jobs := c.pool.jobsEnded()
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("winnow %s: no result after %v: %w", strings.Join(args, " "), timeout, ctx.Err())
	}
	c.pool.waitIdle(time.Minute)
	c.removeWorkerCopies()
	var cpu time.Duration
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), Err: err, CPU: cpu, Jobs: c.pool.statsSince(jobs)}
}

// StartRun starts winnow with args on the cluster without waiting; the
// returned command is running (its output goes to the buffers).
func (c *Cluster) StartRun(t testing.TB, stdout, stderr *bytes.Buffer, args ...string) *exec.Cmd {
	t.Helper()
	cmd := c.command(context.Background(), t, append(args, c.RunnerArgs()...), stdout, stderr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// WorkerProcess is a live winnow worker process.
type WorkerProcess struct {
	Pid int
	// Index is its place (from 0) among its job's processes, in the order
	// the pool started them: JobStats.Bundles's index.
	Index int
}

// WorkerProcesses returns the live winnow worker processes (the children
// of the boot programs the pool started), in the order the pool started
// them.
func (c *Cluster) WorkerProcesses() []WorkerProcess {
	var out []WorkerProcess
	for _, j := range c.pool.running() {
		for i, w := range j.procs {
			for _, pid := range children(w.cmd.Process.Pid) {
				out = append(out, WorkerProcess{Pid: pid, Index: i})
			}
		}
	}
	return out
}

// BusyWorkerProcess returns the process id of a live winnow worker process
// that has a bundle in progress (of those, the one that has had a bundle
// the longest), or false if none has. With one worker process per job the
// router is absent and the process is taken as busy.
func (c *Cluster) BusyWorkerProcess() (int, bool) {
	for _, j := range c.pool.running() {
		busy := []int{0}
		if j.router != nil {
			busy = j.router.busy()
		}
		for _, i := range busy {
			if pids := children(j.procs[i].cmd.Process.Pid); len(pids) > 0 {
				return pids[0], true
			}
		}
	}
	return 0, false
}

// children lists the processes whose parent is pid (Linux's /proc: the
// children of each of its threads).
func children(pid int) []int {
	lists, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, l := range lists {
		b, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func (c *Cluster) hashWorker() error {
	b, err := os.ReadFile(c.Winnow)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	c.workerHash, c.workerSize = sha256.Sum256(b), int64(len(b))
	return nil
}

// removeWorkerCopies removes the copies of the worker binary that boot
// makes in /tmp/bin*/worker (a fixed location it never cleans) for every
// worker: only copies of this cluster's binary, identified by size and
// checksum.
func (c *Cluster) removeWorkerCopies() {
	copies, _ := filepath.Glob("/tmp/bin*/worker")
	for _, p := range copies {
		st, err := os.Stat(p)
		if err != nil || st.Size() != c.workerSize {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil || sha256.Sum256(b) != c.workerHash {
			continue
		}
		os.RemoveAll(filepath.Dir(p))
	}
}

// workerPool is Beam's EXTERNAL worker pool service (what the boot program
// serves with --worker_pool): it starts each worker through the boot
// program, as a container entrypoint would, as procs processes, each in a
// working directory and TMPDIR of its own, behind a router where procs > 1.
// Each process is a process group of its own (boot and the winnow worker it
// starts), stopped as a whole when the runner stops the worker; boot's own
// pool kills only boot, leaving the worker running.
type workerPool struct {
	fnpb.UnimplementedBeamFnExternalWorkerPoolServer
	boot, dir string
	procs     int

	mu    sync.Mutex
	seq   int
	jobs  map[string]*job // by worker id
	ended []JobStats
}

// job is what the pool started for one worker of the runner: its
// processes, and the router before them (nil for one process).
type job struct {
	seq       int
	procs     []*worker
	router    *router
	routerLog *os.File
}

type worker struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *workerPool) StartWorker(_ context.Context, req *fnpb.StartWorkerRequest) (*fnpb.StartWorkerResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := req.GetWorkerId()
	if _, ok := p.jobs[id]; ok {
		return &fnpb.StartWorkerResponse{Error: fmt.Sprintf("worker %q already exists", id)}, nil
	}
	p.seq++
	j := &job{seq: p.seq}
	dir := filepath.Join(p.dir, fmt.Sprintf("job-%03d", p.seq))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return &fnpb.StartWorkerResponse{Error: err.Error()}, nil
	}
	// A single process talks to prism; several talk to the router, each
	// at an endpoint of its own (artifacts still come from prism).
	endpoint := func(int) string { return req.GetControlEndpoint().GetUrl() }
	if p.procs > 1 {
		log, err := os.Create(filepath.Join(dir, "router.log"))
		if err != nil {
			return &fnpb.StartWorkerResponse{Error: err.Error()}, nil
		}
		r, err := newRouter(id, req.GetControlEndpoint().GetUrl(), p.procs, log)
		if err != nil {
			log.Close()
			return &fnpb.StartWorkerResponse{Error: err.Error()}, nil
		}
		j.router, j.routerLog = r, log
		endpoint = func(i int) string { return r.procs[i].url }
	}
	for i := range p.procs {
		w, err := startBoot(p.boot, filepath.Join(dir, fmt.Sprintf("worker-%d", i+1)), id, endpoint(i), req.GetArtifactEndpoint().GetUrl())
		if err != nil {
			j.stop()
			return &fnpb.StartWorkerResponse{Error: fmt.Sprintf("worker %s, process %d: %v", id, i+1, err)}, nil
		}
		j.procs = append(j.procs, w)
		if j.router != nil {
			go func() {
				<-w.done
				j.router.died(j.router.procs[i], fmt.Errorf("boot exited: %v", w.cmd.ProcessState))
			}()
		}
	}
	p.jobs[id] = j
	return &fnpb.StartWorkerResponse{}, nil
}

// startBoot starts the boot program for the worker id in dir (made, with
// dir/tmp as its TMPDIR and dir/worker.log its output), with endpoint as
// its control, logging and provision endpoint.
func startBoot(boot, dir, id, endpoint, artifacts string) (*worker, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "worker.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(boot,
		"--id="+id,
		"--control_endpoint="+endpoint,
		"--artifact_endpoint="+artifacts,
		"--provision_endpoint="+endpoint,
		"--logging_endpoint="+endpoint,
		"--semi_persist_dir="+dir,
	)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+filepath.Join(dir, "tmp"))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start boot: %w", err)
	}
	w := &worker{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		log.Close()
		close(w.done)
	}()
	return w, nil
}

func (p *workerPool) StopWorker(_ context.Context, req *fnpb.StopWorkerRequest) (*fnpb.StopWorkerResponse, error) {
	p.mu.Lock()
	j, ok := p.jobs[req.GetWorkerId()]
	delete(p.jobs, req.GetWorkerId())
	p.mu.Unlock()
	if ok {
		j.stop()
		if j.router != nil {
			p.mu.Lock()
			p.ended = append(p.ended, j.router.jobStats())
			p.mu.Unlock()
		}
	}
	return &fnpb.StopWorkerResponse{}, nil
}

// stop kills the job's processes and stops its router.
func (j *job) stop() {
	for _, w := range j.procs {
		w.stop()
	}
	if j.router != nil {
		j.router.close()
		j.routerLog.Close()
	}
}

// stop kills the worker's process group and waits for boot to exit.
func (w *worker) stop() {
	_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
	<-w.done
}

// running returns the jobs running now, in the order they started.
func (p *workerPool) running() []*job {
	p.mu.Lock()
	defer p.mu.Unlock()
	js := slices.Collect(maps.Values(p.jobs))
	slices.SortFunc(js, func(a, b *job) int { return a.seq - b.seq })
	return js
}

// jobsEnded returns the number of jobs that have ended so far (see
// statsSince).
func (p *workerPool) jobsEnded() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ended)
}

// statsSince returns the routers' counts of the jobs that ended after the
// first n.
func (p *workerPool) statsSince(n int) []JobStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.ended[n:])
}

// waitIdle waits until the runner has stopped every worker it started (at
// most timeout), so that a job's workers are gone when its command returns.
func (p *workerPool) waitIdle(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		n := len(p.jobs)
		p.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *workerPool) stopAll() {
	p.mu.Lock()
	js := p.jobs
	p.jobs = map[string]*job{}
	p.mu.Unlock()
	for _, j := range js {
		j.stop()
	}
}
