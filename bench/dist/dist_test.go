//go:build cluster

// Package dist benchmarks winnow filter on a cluster of processes against
// the local run, on the same data read from gs:// (a fake GCS server on
// loopback, in the benchmark's process): a corpus of ≥ 200 MB of JSON in
// .jsonl.zst shards made by bench/prepare/gencorpus, and a fastText model
// trained on the bundled FineWeb-Edu sample. The cluster is
// internal/testutil/cluster's: a prism job server and workers started
// through Beam's boot program, each in a process of its own (prism gives a
// job one worker process; it uses every core).
//
//	go test -tags cluster -run '^$' -bench FilterFromGCS -benchtime 1x -timeout 40m ./bench/dist
//
// It prints a table of every run; WINNOW_BENCH_MB sets the corpus size
// (default 240), WINNOW_BENCH_RUNS the runs of each side (default 2,
// alternating local and cluster).
package dist

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	c := cluster.Start(b, winnow, boot)
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
	fmt.Printf("corpus: %d MB of JSON in %d .jsonl.zst shards (%.1f MB in gs://), filter --keep-fraction 0.1, %d runs each, alternating\n",
		mb, len(files), float64(stored)/(1<<20), runs)
	fmt.Println("| run | side | wall s | cores busy (winnow) | cores busy (fake GCS, harness) |")
	fmt.Println("|---|---|---:|---:|---:|")
	best := map[string]time.Duration{}
	for i := 0; i < runs; i++ {
		for _, side := range []string{"local", "cluster"} {
			out := fmt.Sprintf("gs://%s/out-%s-%d", bucket, side, i)
			args := []string{"filter", "-i", in, "-o", out, "-m", "gs://" + bucket + "/model", "--keep-fraction", "0.1"}
			var sampler *cpuSampler
			if side == "cluster" {
				sampler = startSampler(c)
			}
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
			if r.Err != nil {
				b.Fatalf("%s: %v\n%s%s", side, r.Err, r.Stdout, r.Stderr)
			}
			// The submitting winnow and, on the cluster, the boot programs
			// (children of this process, reaped) and the workers they
			// started (sampled).
			cpu := rusage(syscall.RUSAGE_CHILDREN) - children
			if sampler != nil {
				cpu += sampler.stop()
			}
			if best[side] == 0 || wall < best[side] {
				best[side] = wall
			}
			fmt.Printf("| %d | %s | %.2f | %.2f | %.2f |\n", i+1, side, wall.Seconds(), cpu.Seconds()/wall.Seconds(), harness.Seconds()/wall.Seconds())
			b.Logf("%s: %s", side, strings.SplitN(r.Stdout, "\n", 2)[0])
		}
	}
	fmt.Printf("best wall s: local %.2f, cluster %.2f; ratio cluster / local %.2f\n",
		best["local"].Seconds(), best["cluster"].Seconds(), best["cluster"].Seconds()/best["local"].Seconds())
	b.ReportMetric(best["cluster"].Seconds()/best["local"].Seconds(), "cluster/local")
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
}

func startSampler(c *cluster.Cluster) *cpuSampler {
	s := &cpuSampler{done: make(chan struct{}), last: map[int]time.Duration{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, pid := range c.WorkerProcesses() {
				if t, ok := procCPU(pid); ok {
					s.mu.Lock()
					s.last[pid] = t
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

func (s *cpuSampler) stop() time.Duration {
	close(s.done)
	s.wg.Wait()
	var total time.Duration
	for _, t := range s.last {
		total += t
	}
	return total
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
