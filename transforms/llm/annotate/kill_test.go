package annotate

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/internal/testutil/fakeopenai"
	"github.com/winnowlabs/winnow/transforms/llm/cache"
)

// Environment of the helper process of TestKillMidRunThenResume.
const (
	helperEnv      = "WINNOW_ANNOTATE_KILL_HELPER"
	helperURLEnv   = "WINNOW_ANNOTATE_KILL_URL"
	helperCacheEnv = "WINNOW_ANNOTATE_KILL_CACHE"
	killConcurrent = 8
)

// TestKillHelper is the child process of TestKillMidRunThenResume: it
// annotates the sample rows until it is killed.
func TestKillHelper(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process of TestKillMidRunThenResume")
	}
	store, err := cache.Open(os.Getenv(helperCacheEnv), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := newAnnotator(t, testClient(t, os.Getenv(helperURLEnv), killConcurrent), Options{Cache: store})
	_, err = a.Annotate(context.Background(), slices.Values(sampleRows(t)), func(Result) {})
	t.Fatalf("the helper was not killed (Annotate returned %v)", err)
}

// A run killed with SIGKILL mid-run is resumed by running it again: every row
// ends annotated exactly once, and no request answered and recorded by the
// killed run is sent again.
//
// The server can only know that it wrote an answer, not that the client
// recorded it: an answer written to a socket just before the kill may never
// reach the cache. So the property checked is: (1) no request of the second
// run has an answer in the cache left by the killed run; (2) the requests of
// the second run whose answer the server had completed in the first run are
// at most the requests in flight at the kill (the concurrency).
func TestKillMidRunThenResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	rows := sampleRows(t)
	const answersBeforeKill = 20
	// After 20 answers every request hangs: the child is mid-run, with
	// requests in flight, when it is killed.
	srv := fakeopenai.New(fakeopenai.Config{Latency: 10 * time.Millisecond, MaxCompleted: answersBeforeKill})
	defer srv.Close()
	dir := t.TempDir()

	cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"=1", helperURLEnv+"="+srv.URL, helperCacheEnv+"="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := srv.WaitCompleted(ctx, answersBeforeKill); err != nil {
		cmd.Process.Kill()
		t.Fatalf("the child did not get %d answers: %v\n%s", answersBeforeKill, err, out.String())
	}
	// Wait until the child has its next requests in flight (hanging).
	for received, _ := srv.Counts(); received < answersBeforeKill+killConcurrent; received, _ = srv.Counts() {
		if ctx.Err() != nil {
			t.Fatalf("the child sent %d requests\n%s", received, out.String())
		}
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()

	// What the killed run left.
	left, err := cache.Open(dir, cache.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	firstEvents := srv.Events()
	completedBefore := map[string]bool{}
	for _, e := range firstEvents {
		if e.Completed {
			completedBefore[e.Prompt] = true
		}
	}
	srv.ResetEvents()
	srv.SetMaxCompleted(0)

	// The same command again.
	a := newAnnotator(t, testClient(t, srv.URL, killConcurrent), Options{Cache: openCache(t, dir)})
	res, _, err := run(t, a, rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(rows) {
		t.Fatalf("%d results for %d rows", len(res), len(rows))
	}
	cachedByKilled := 0
	for _, row := range rows {
		r := res[row.Key]
		if r.Status != Annotated || r.Value["score"] != expectedScore(a, row.Text) {
			t.Errorf("row %s: %s %v %s", row.Key, r.Status, r.Value, r.Reason)
		}
		if _, ok := left.Answer(r.RequestKey); ok {
			cachedByKilled++
		}
	}
	// Requests that arrived before the 20th answer may complete after it.
	if cachedByKilled == 0 || cachedByKilled > len(completedBefore) {
		t.Errorf("the killed run left %d answers; the server completed %d", cachedByKilled, len(completedBefore))
	}

	promptKey := map[string]string{}
	for _, row := range rows {
		req := a.Request(row.Text)
		promptKey[req.Messages[len(req.Messages)-1].Content] = req.Key()
	}
	resent, answeredBefore := map[string]bool{}, 0
	for _, e := range srv.Events() {
		if resent[e.Prompt] {
			continue // a retry
		}
		resent[e.Prompt] = true
		if _, ok := left.Answer(promptKey[e.Prompt]); ok {
			t.Errorf("request %d was answered and recorded by the killed run, and sent again", e.Seq)
		}
		if completedBefore[e.Prompt] {
			answeredBefore++
		}
	}
	if answeredBefore > killConcurrent {
		t.Errorf("%d requests answered before the kill were sent again; at most %d can have been in flight", answeredBefore, killConcurrent)
	}
	if want := len(rows) - cachedByKilled; len(resent) != want {
		t.Errorf("the second run sent %d requests, want %d (rows not in the cache)", len(resent), want)
	}
	t.Logf("killed after %d answers (%d recorded); second run sent %d, %d of them answered before the kill",
		len(completedBefore), cachedByKilled, len(resent), answeredBefore)
}
