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
	"github.com/winnowlabs/winnow/transforms/llm"
	"github.com/winnowlabs/winnow/transforms/llm/annotate"
	"github.com/winnowlabs/winnow/transforms/llm/cache"
	"github.com/winnowlabs/winnow/transforms/prompts"
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
	if err := bench(*rows, *latency, *concurrency, *maxText, *noSync, *texts); err != nil {
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

func bench(n int, latency time.Duration, concurrency, maxText int, noSync bool, textsFile string) error {
	base, source, err := loadTexts(textsFile)
	if err != nil {
		return err
	}
	// The server in a child process.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "-serve", "-latency", latency.String())
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

	dir, err := os.MkdirTemp("", "winnow-bench-cache-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store, err := cache.Open(dir, cache.Options{NoSync: noSync})
	if err != nil {
		return err
	}
	defer store.Close()
	client, err := llm.New(llm.Config{BaseURL: url, MaxConcurrency: concurrency, RequestTimeout: time.Minute, MaxAttempts: 3})
	if err != nil {
		return err
	}
	prompt, err := prompts.Get("fineweb-edu")
	if err != nil {
		return err
	}
	a, err := annotate.New(client, annotate.Options{
		Prompt: prompt, Processor: prompts.ProcessorJSON, Model: "bench-model", MaxTokens: 512,
		MaxTextLength: maxText, Cache: store,
	})
	if err != nil {
		return err
	}
	rows := func(yield func(annotate.Row) bool) {
		for i := range n {
			if !yield(annotate.Row{Key: fmt.Sprint(i), Text: fmt.Sprintf("[row %d]\n%s", i, base[i%len(base)])}) {
				return
			}
		}
	}
	var heapPeak uint64
	done := make(chan struct{})
	go sampleHeap(done, &heapPeak)

	cpu0 := cpuTime()
	start := time.Now()
	var annotated int
	st, err := a.Annotate(context.Background(), iter.Seq[annotate.Row](rows), func(r annotate.Result) {
		if r.Status == annotate.Annotated {
			annotated++
		}
	})
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	close(done)
	if err != nil {
		return err
	}
	if annotated != n {
		return fmt.Errorf("%d of %d rows annotated", annotated, n)
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	bound := float64(concurrency) / latency.Seconds()
	rate := float64(st.Requests) / elapsed.Seconds()
	fmt.Printf("texts: %d distinct from %s, truncated to %d characters\n", len(base), source, maxText)
	fmt.Printf("rows %d, requests %d, latency %s, concurrency %d, cache fsync %v, GOMAXPROCS %d\n",
		n, st.Requests, latency, concurrency, !noSync, runtime.GOMAXPROCS(0))
	fmt.Printf("wall %.2fs, %.0f requests/s of the %.0f/s bound (%.1f%%)\n", elapsed.Seconds(), rate, bound, 100*rate/bound)
	fmt.Printf("client CPU %.2fs, %.0f µs per request\n", cpu.Seconds(), float64(cpu.Microseconds())/float64(st.Requests))
	fmt.Printf("client memory: peak RSS %.0f MiB, peak Go heap in use %.0f MiB\n",
		float64(ru.Maxrss)/1024, float64(heapPeak)/(1<<20))
	return nil
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
