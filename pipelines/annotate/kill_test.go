package annotate

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/internal/testutil/fakeopenai"
	"github.com/winnowlabs/winnow/transforms/llm/cache"
)

// killOptions is the run that TestSIGKILLMidRunThenRerun kills: two shards
// of four rows at a time, and a request timeout long enough that no request
// hanging at the kill times out first.
func killOptions(url, in, out, cacheDir string) Options {
	o := testOptions(url, in, out, cacheDir)
	o.ShardsInFlight, o.RequestTimeout = 2, time.Minute
	return o
}

// A run killed with SIGKILL mid-run (some shards committed, requests in
// flight) and run again ends with every row annotated exactly once, and the
// second run sends no request whose answer the killed run recorded.
//
// The server can only know that it wrote an answer, not that the client
// recorded it, so what is checked is: no request of the second run has an
// answer in the cache the killed run left; the second run sends exactly the
// rows without one; the answers the server completed that were sent again
// are at most the requests in flight at the kill (the concurrency).
func TestSIGKILLMidRunThenRerun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	ctx := context.Background()
	rows := sampleRows(t)
	dir := t.TempDir()
	in, out, cacheDir := filepath.Join(dir, "in"), filepath.Join(dir, "out"), filepath.Join(dir, "cache")
	writeShards(t, in, rawLines(rows), 4)
	const answersBeforeKill = 20
	// After 20 answers every request hangs: the child is mid-run, with
	// requests in flight, when it is killed.
	srv := fakeopenai.New(fakeopenai.Config{Latency: 10e6, MaxCompleted: answersBeforeKill})
	defer srv.Close()
	o := killOptions(srv.URL, in, out, cacheDir)
	req := requestsOf(t, o, rows)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childURL+"="+srv.URL, childIn+"="+in, childOut+"="+out, childCache+"="+cacheDir)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := srv.WaitCompleted(wctx, answersBeforeKill); err != nil {
		cmd.Process.Kill()
		t.Fatalf("the child did not get %d answers: %v\n%s", answersBeforeKill, err, stderr.String())
	}
	// Wait for a request to hang, then give the others in flight a moment.
	for received, _ := srv.Counts(); received <= answersBeforeKill; received, _ = srv.Counts() {
		if wctx.Err() != nil {
			cmd.Process.Kill()
			t.Fatalf("the child sent %d requests\n%s", received, stderr.String())
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()
	markers, _ := filepath.Glob(filepath.Join(out, "_done", "train", "*.json"))
	if len(markers) == 0 || len(markers) == 12 {
		t.Fatalf("%d of 12 shards were committed at the kill\n%s", len(markers), stderr.String())
	}

	left, err := cache.Open(cacheDir, cache.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	completedBefore := promptsOf(srv, true)
	received, _ := srv.Counts()
	srv.ResetEvents()
	srv.SetMaxCompleted(0)

	// The same command again.
	res, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Incomplete != 0 || res.Counters["shards_resumed"] != int64(len(markers)) {
		t.Errorf("re-run: %d incomplete, counters %s; %d shards were committed", res.Incomplete, res.Counters, len(markers))
	}
	checkEachRowOnce(t, out, rows, req, nil)
	if got, _ := readOutput(t, out); len(got) != len(rows) {
		t.Errorf("%d rows in the output, want %d", len(got), len(rows))
	}
	recorded := 0
	for p := range req.key {
		if _, ok := left.Answer(req.key[p]); ok {
			recorded++
		}
	}
	sent := promptsOf(srv, false)
	answeredBefore := 0
	for p := range sent {
		if _, ok := left.Answer(req.key[p]); ok {
			t.Errorf("row %d was answered and recorded by the killed run, and sent again", req.index[p])
		}
		if completedBefore[p] {
			answeredBefore++
		}
	}
	if len(sent) != len(rows)-recorded {
		t.Errorf("the second run sent %d requests, want %d (rows without an answer in the cache)", len(sent), len(rows)-recorded)
	}
	if answeredBefore > o.MaxConcurrency {
		t.Errorf("%d requests answered before the kill were sent again; at most %d can have been in flight", answeredBefore, o.MaxConcurrency)
	}
	var temps []string
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".tmp-") {
			temps = append(temps, p)
		}
		return nil
	})
	if len(temps) > 0 {
		t.Errorf("temporary files remain: %v", temps)
	}
	t.Logf("killed with %d of 12 shards committed, %d requests received, %d answers recorded; the re-run sent %d",
		len(markers), received, recorded, len(sent))
}
