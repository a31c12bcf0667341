// Command annotate benchmarks LLM annotation throughput: the annotator with
// its flow control and durable response cache, against an OpenAI-compatible
// server with a fixed latency (internal/testutil/fakeopenai, run in a child
// process so that the client's CPU is measured alone).
//
// With latency L and concurrency C no client can exceed C/L requests per
// second (256 / 200ms = 1,280/s); the benchmark reports the achieved rate
// against that bound, the client's CPU time per request and its memory.
//
//	go run ./bench/annotate -rows 100000 -latency 200ms -concurrency 256
//
// Rows are real FineWeb-Edu texts (../shared/data/fineweb-edu-llama3-sample,
// else the repository's testdata sample) repeated with a row number appended,
// so that every row is a distinct request; they are generated on the fly, so
// the memory reported is the annotator's, not the input's.
//
// With -pipeline the rows are first written as -shards JSON Lines shards
// (zstd) and annotated by the annotate pipeline (what `winnow annotate` runs,
// on prism in this process): reading, the annotator, writing the annotated
// shards, the completion markers and the manifest. CPU and memory are then
// the whole command's.
//
//	go run ./bench/annotate -pipeline -rows 100000 -latency 200ms -concurrency 256
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"iter"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/winnowlabs/winnow/internal/testutil/fakeopenai"
	pipeline "github.com/winnowlabs/winnow/pipelines/annotate"
	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/transforms/llm"
	"github.com/winnowlabs/winnow/transforms/llm/annotate"
	"github.com/winnowlabs/winnow/transforms/llm/cache"
	"github.com/winnowlabs/winnow/transforms/prompts"
	"github.com/winnowlabs/winnow/transforms/shardio"
)

func main() {
	var (
		serve       = flag.Bool("serve", false, "run the fake server only (used by the benchmark itself)")
		rows        = flag.Int("rows", 100000, "rows to annotate")
		latency     = flag.Duration("latency", 200*time.Millisecond, "server latency per request")
		concurrency = flag.Int("concurrency", 256, "requests in flight (--max-concurrency)")
		maxText     = flag.Int("max-text-length", 2000, "truncate texts to this many characters")
		noSync      = flag.Bool("nosync", false, "do not fsync the cache")
		texts       = flag.String("texts", "", "JSONL file of texts (default: the shared FineWeb-Edu sample, else testdata)")
		cpuProfile  = flag.String("cpuprofile", "", "write the client's CPU profile to this file")
		pipe        = flag.Bool("pipeline", false, "annotate shards with the annotate pipeline instead of calling the annotator")
		shards      = flag.Int("shards", 10, "with -pipeline, the number of input shards")
	)
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if *serve {
		runServer(*latency)
		return
	}
	cfg := benchConfig{rows: *rows, latency: *latency, concurrency: *concurrency, maxText: *maxText, noSync: *noSync, pipeline: *pipe, shards: *shards}
	if err := bench(cfg, *texts); err != nil {
		log.Print(err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// runServer serves until its standard input closes, printing the URL first.
func runServer(latency time.Duration) {
	srv := fakeopenai.New(fakeopenai.Config{Latency: latency})
	fmt.Println(srv.URL)
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	srv.Close()
}

// benchConfig is what a benchmark run does.
type benchConfig struct {
	rows, concurrency, maxText, shards int
	latency                            time.Duration
	noSync, pipeline                   bool
}

func bench(cfg benchConfig, textsFile string) error {
	base, source, err := loadTexts(textsFile)
	if err != nil {
		return err
	}
	// The server in a child process.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "-serve", "-latency", cfg.latency.String())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	url, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	url = strings.TrimSpace(url)

	dir, err := os.MkdirTemp("", "winnow-bench-annotate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	text := func(i int) string { return fmt.Sprintf("[row %d]\n%s", i, base[i%len(base)]) }
	run := func() (int64, error) { return runAnnotator(url, filepath.Join(dir, "cache"), cfg, text) }
	what := "annotator"
	if cfg.pipeline {
		in := filepath.Join(dir, "in")
		if err := writeShards(in, cfg, text); err != nil {
			return err
		}
		run = func() (int64, error) { return runPipeline(url, in, dir, cfg) }
		what = fmt.Sprintf("annotate pipeline (prism), %d shards", cfg.shards)
	}
	var heapPeak uint64
	done := make(chan struct{})
	go sampleHeap(done, &heapPeak)

	cpu0 := cpuTime()
	start := time.Now()
	requests, err := run()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	close(done)
	if err != nil {
		return err
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	bound := float64(cfg.concurrency) / cfg.latency.Seconds()
	rate := float64(requests) / elapsed.Seconds()
	fmt.Printf("%s; texts: %d distinct from %s, truncated to %d characters\n", what, len(base), source, cfg.maxText)
	fmt.Printf("rows %d, requests %d, latency %s, concurrency %d, cache fsync %v, GOMAXPROCS %d\n",
		cfg.rows, requests, cfg.latency, cfg.concurrency, !cfg.noSync || cfg.pipeline, runtime.GOMAXPROCS(0))
	fmt.Printf("wall %.2fs, %.0f requests/s of the %.0f/s bound (%.1f%%)\n", elapsed.Seconds(), rate, bound, 100*rate/bound)
	fmt.Printf("client CPU %.2fs, %.0f µs per request\n", cpu.Seconds(), float64(cpu.Microseconds())/float64(requests))
	fmt.Printf("client memory: peak RSS %.0f MiB, peak Go heap in use %.0f MiB\n",
		float64(ru.Maxrss)/1024, float64(heapPeak)/(1<<20))
	return nil
}

// runAnnotator annotates generated rows with the annotator alone and returns
// the requests sent.
func runAnnotator(url, cacheDir string, cfg benchConfig, text func(int) string) (int64, error) {
	store, err := cache.Open(cacheDir, cache.Options{NoSync: cfg.noSync})
	if err != nil {
		return 0, err
	}
	defer store.Close()
	client, err := llm.New(llm.Config{BaseURL: url, MaxConcurrency: cfg.concurrency, RequestTimeout: time.Minute, MaxAttempts: 3})
	if err != nil {
		return 0, err
	}
	prompt, err := prompts.Get("fineweb-edu")
	if err != nil {
		return 0, err
	}
	a, err := annotate.New(client, annotate.Options{
		Prompt: prompt, Processor: prompts.ProcessorJSON, Model: "bench-model", MaxTokens: 512,
		MaxTextLength: cfg.maxText, Cache: store,
	})
	if err != nil {
		return 0, err
	}
	rows := func(yield func(annotate.Row) bool) {
		for i := range cfg.rows {
			if !yield(annotate.Row{Key: fmt.Sprint(i), Text: text(i)}) {
				return
			}
		}
	}
	var annotated int
	st, err := a.Annotate(context.Background(), iter.Seq[annotate.Row](rows), func(r annotate.Result) {
		if r.Status == annotate.Annotated {
			annotated++
		}
	})
	if err != nil {
		return 0, err
	}
	if annotated != cfg.rows {
		return 0, fmt.Errorf("%d of %d rows annotated", annotated, cfg.rows)
	}
	return st.Requests, nil
}

// writeShards writes the generated rows as zstd JSON Lines shards.
func writeShards(dir string, cfg benchConfig, text func(int) string) error {
	per := (cfg.rows + cfg.shards - 1) / cfg.shards
	for s := 0; s*per < cfg.rows; s++ {
		w, err := shardio.Create(context.Background(), filepath.Join(dir, fmt.Sprintf("shard_%03d.jsonl.zst", s)))
		if err != nil {
			return err
		}
		for i := s * per; i < min((s+1)*per, cfg.rows); i++ {
			row, err := json.Marshal(map[string]any{"id": i, "text": text(i)})
			if err != nil {
				return err
			}
			if err := w.Write(row); err != nil {
				return err
			}
		}
		if err := w.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// runPipeline annotates the shards in in with the annotate pipeline and
// returns the requests sent.
func runPipeline(url, in, dir string, cfg benchConfig) (int64, error) {
	prompt, err := prompts.Get("fineweb-edu")
	if err != nil {
		return 0, err
	}
	res, err := pipeline.Run(context.Background(), pipeline.Options{
		Common: mapstep.Common{Inputs: []string{in}, Output: filepath.Join(dir, "out"), Quiet: true},
		Prompt: prompt, Processor: prompts.ProcessorJSON, Model: "bench-model", MaxNewTokens: 512,
		MaxTextLength: cfg.maxText, BaseURL: url, CacheDir: filepath.Join(dir, "cache"),
		MaxConcurrency: cfg.concurrency, RequestTimeout: time.Minute, MaxAttempts: 3,
	})
	if err != nil {
		return 0, err
	}
	if n := res.Summary.Ledger.Annotated; n != int64(cfg.rows) {
		return 0, fmt.Errorf("%d of %d rows annotated", n, cfg.rows)
	}
	return res.Spent.Requests, nil
}

// sampleHeap records the peak heap in use until done closes.
func sampleHeap(done chan struct{}, peak *uint64) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var ms runtime.MemStats
	for {
		runtime.ReadMemStats(&ms)
		*peak = max(*peak, ms.HeapInuse)
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadTexts reads the "text" field of a JSONL file.
func loadTexts(file string) ([]string, string, error) {
	if file == "" {
		for _, c := range []string{
			filepath.Join("..", "shared", "data", "fineweb-edu-llama3-sample", "train.jsonl"),
			filepath.Join("testdata", "annotate", "fineweb-edu-sample.jsonl"),
		} {
			if _, err := os.Stat(c); err == nil {
				file = c
				break
			}
		}
	}
	if file == "" {
		return nil, "", fmt.Errorf("no texts: run from the repository root or give -texts")
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	var texts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var r struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, "", fmt.Errorf("%s: %w", file, err)
		}
		texts = append(texts, r.Text)
	}
	if len(texts) == 0 {
		return nil, "", fmt.Errorf("%s: no texts", file)
	}
	return texts, file, sc.Err()
}
