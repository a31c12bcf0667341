//go:build cluster

// Package dist benchmarks winnow filter on a cluster of processes against
// the local run, on the same data read from gs:// (a fake GCS server on
// loopback, in the benchmark's process): a corpus of ≥ 200 MB of JSON in
// .jsonl.zst shards made by bench/prepare/gencorpus, and a fastText model
// trained on the bundled FineWeb-Edu sample. The cluster is
// internal/testutil/cluster's: a prism job server and, for each job, worker
// processes started through Beam's boot program behind the cluster's
// bundle router, which spreads the job's bundles over them.
//
//	go test -tags cluster -run '^$' -bench FilterFromGCS -benchtime 1x -timeout 40m ./bench/dist
//
// It prints a table of every run (wall and CPU time, cores busy, each
// worker process's CPU time and bundles, the load average before and
// after); WINNOW_BENCH_MB sets the corpus size (default 240),
// WINNOW_BENCH_RUNS the runs of each side (default 2, alternating local
// and cluster), WINNOW_BENCH_WORKERS the worker processes per job (default
// 2).
package dist

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/internal/testutil/cluster"
	"github.com/winnowlabs/winnow/internal/testutil/fakecloud"
	"github.com/winnowlabs/winnow/transforms/storage"
)

const bucket = "bench"

func BenchmarkFilterFromGCS(b *testing.B) {
	root := testutil.RepoRoot(b)
	work := b.TempDir()
	winnow, boot := cluster.Build(b, work)
	gen := filepath.Join(work, "gencorpus")
	run(b, root, "go", "build", "-o", gen, "./bench/prepare/gencorpus")
	mb := 240
	if v := os.Getenv("WINNOW_BENCH_MB"); v != "" {
		mb, _ = strconv.Atoi(v)
	}
	sample := filepath.Join(root, "data", "fineweb-edu-llama3-sample")
	corpus := filepath.Join(work, "corpus")
	run(b, root, gen, "-o", corpus, "-size", strconv.Itoa(mb<<20), "-shards", "24",
		filepath.Join(sample, "train.jsonl.zst"), filepath.Join(sample, "valid.jsonl.zst"))
	model := filepath.Join(work, "model")
	ft := filepath.Join(work, "ft")
	split := filepath.Join(work, "split")
	run(b, root, winnow, "reshard", "-i", sample, "-o", split, "-n", "2", "--test-split", "0.2")
	run(b, root, winnow, "to-fasttext", "-i", split, "-o", ft, "-n", "plsfix",
		"--label-expression", `if .scores.score >= 3 then "pos" else "neg" end`)
	run(b, root, winnow, "train-fasttext", "-d", ft, "-o", model, "--dimension", "100", "--word-ngrams", "2",
		"--epoch", "5", "--learning-rate", "0.5", "--min-count", "1", "--bucket", "200000", "--thread", "2")

	fakecloud.StartGCS(b, bucket)
	workers := 2
	if v := os.Getenv("WINNOW_BENCH_WORKERS"); v != "" {
		workers, _ = strconv.Atoi(v)
	}
	c := cluster.Start(b, winnow, boot, cluster.Options{Workers: workers})
	ctx := context.Background()
	in := "gs://" + bucket + "/corpus"
	var stored int64
	files, err := filepath.Glob(filepath.Join(corpus, "*", "*.zst"))
	if err != nil || len(files) == 0 {
		files, _ = filepath.Glob(filepath.Join(corpus, "*.zst"))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		rel, _ := filepath.Rel(corpus, f)
		if err := storage.WriteFile(ctx, in+"/"+filepath.ToSlash(rel), data); err != nil {
			b.Fatal(err)
		}
		stored += int64(len(data))
	}
	for _, name := range []string{"model.bin", "manifest.json"} {
		data, err := os.ReadFile(filepath.Join(model, name))
		if err != nil {
			b.Fatal(err)
		}
		if err := storage.WriteFile(ctx, "gs://"+bucket+"/model/"+name, data); err != nil {
			b.Fatal(err)
		}
	}

	runs := 2
	if v := os.Getenv("WINNOW_BENCH_RUNS"); v != "" {
		runs, _ = strconv.Atoi(v)
	}
	fmt.Printf("corpus: %d MB of JSON in %d .jsonl.zst shards (%.1f MB in gs://), filter --keep-fraction 0.1, %d runs each, alternating; cluster: %d worker processes per job; %d CPUs\n",
		mb, len(files), float64(stored)/(1<<20), runs, workers, runtime.NumCPU())
	fmt.Println("| run | side | wall s | worker start s | CPU s (winnow) | cores busy (winnow) | CPU s per worker process | bundles per worker process | CPU s (fake GCS, harness) | load avg before | load avg after |")
	fmt.Println("|---|---|---:|---:|---:|---:|---|---|---:|---|---|")
	best := map[string]time.Duration{}
	for i := 0; i < runs; i++ {
		for _, side := range []string{"local", "cluster"} {
			out := fmt.Sprintf("gs://%s/out-%s-%d", bucket, side, i)
			args := []string{"filter", "-i", in, "-o", out, "-m", "gs://" + bucket + "/model", "--keep-fraction", "0.1"}
			var sampler *cpuSampler
			if side == "cluster" {
				sampler = startSampler(c)
			}
			loadBefore := loadAverage()
			self, children := rusage(syscall.RUSAGE_SELF), rusage(syscall.RUSAGE_CHILDREN)
			start := time.Now()
			var r cluster.Result
			if side == "local" {
				r = c.RunLocal(b, 20*time.Minute, args...)
			} else {
				r = c.Run(b, 20*time.Minute, args...)
			}
			wall := time.Since(start)
			harness := rusage(syscall.RUSAGE_SELF) - self
			loadAfter := loadAverage()
			if r.Err != nil {
				b.Fatalf("%s: %v\n%s%s", side, r.Err, r.Stdout, r.Stderr)
			}
			// The submitting winnow and, on the cluster, the boot programs
			// (children of this process, reaped) and the workers they
			// started (sampled).
			cpu := rusage(syscall.RUSAGE_CHILDREN) - children
			perWorker, bundles, startup := "–", "–", "–"
			if sampler != nil {
				procs := sampler.stop()
				var each []string
				for _, t := range procs {
					cpu += t
					each = append(each, fmt.Sprintf("%.1f", t.Seconds()))
				}
				perWorker = strings.Join(each, " / ")
				if len(r.Jobs) > 0 { // counted by the router
					bundles = bundleCounts(r.Jobs)
					var st time.Duration
					for _, j := range r.Jobs {
						st += j.Startup
					}
					startup = fmt.Sprintf("%.1f", st.Seconds())
				}
			}
			if best[side] == 0 || wall < best[side] {
				best[side] = wall
			}
			fmt.Printf("| %d | %s | %.2f | %s | %.1f | %.2f | %s | %s | %.1f | %s | %s |\n", i+1, side, wall.Seconds(), startup, cpu.Seconds(),
				cpu.Seconds()/wall.Seconds(), perWorker, bundles, harness.Seconds(), loadBefore, loadAfter)
			b.Logf("%s: %s", side, strings.SplitN(r.Stdout, "\n", 2)[0])
		}
	}
	fmt.Printf("best wall s: local %.2f, cluster %.2f; ratio cluster / local %.2f\n",
		best["local"].Seconds(), best["cluster"].Seconds(), best["cluster"].Seconds()/best["local"].Seconds())
	b.ReportMetric(best["cluster"].Seconds()/best["local"].Seconds(), "cluster/local")
}

// bundleCounts sums the bundles each worker process of the jobs completed
// (the jobs of one command, each with its own processes).
func bundleCounts(jobs []cluster.JobStats) string {
	var sum []int
	for _, j := range jobs {
		for i, n := range j.Bundles {
			if i >= len(sum) {
				sum = append(sum, 0)
			}
			sum[i] += n
		}
	}
	each := make([]string, len(sum))
	for i, n := range sum {
		each[i] = strconv.Itoa(n)
	}
	return strings.Join(each, " / ")
}

// loadAverage returns the 1, 5 and 15 minute load averages of the machine.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// rusage returns the user and system time of this process (the fake GCS
// server, the job server and the worker pool) or of its reaped children.
func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func run(b *testing.B, dir, name string, args ...string) {
	b.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// cpuSampler follows the CPU time of the cluster's worker processes (which
// the pool kills at the end of a job, so their usage is sampled while they
// run, every 100 ms).
type cpuSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	last map[int]time.Duration
	// slot is each process's place among its job's processes (the jobs
	// of a command run one after another).
	slot map[int]int
}

func startSampler(c *cluster.Cluster) *cpuSampler {
	s := &cpuSampler{done: make(chan struct{}), last: map[int]time.Duration{}, slot: map[int]int{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, w := range c.WorkerProcesses() {
				if t, ok := procCPU(w.Pid); ok {
					s.mu.Lock()
					s.last[w.Pid] = t
					s.slot[w.Pid] = w.Index
					s.mu.Unlock()
				}
			}
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// stop stops sampling and returns the CPU time of the worker processes,
// summed over the jobs by their place within their job.
func (s *cpuSampler) stop() []time.Duration {
	close(s.done)
	s.wg.Wait()
	var bySlot []time.Duration
	for pid, t := range s.last {
		i := s.slot[pid]
		for len(bySlot) <= i {
			bySlot = append(bySlot, 0)
		}
		bySlot[i] += t
	}
	return bySlot
}

// procCPU returns a process's user+system CPU time from /proc/PID/stat.
func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz, true
}
