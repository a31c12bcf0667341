package annotate

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/internal/testutil/fakeopenai"
	"github.com/winnowlabs/winnow/transforms/llm"
	"github.com/winnowlabs/winnow/transforms/llm/cache"
	"github.com/winnowlabs/winnow/transforms/prompts"
)

// sampleRows reads the real FineWeb-Edu rows of testdata/annotate.
func sampleRows(t testing.TB) []Row {
	t.Helper()
	return readRows(t, testutil.Testdata(t, "annotate/fineweb-edu-sample.jsonl"))
}

func readRows(t testing.TB, path string) []Row {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []Row
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r struct{ ID, Text string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, Row{Key: r.ID, Text: r.Text})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// testClient is a client with short backoffs. Its request timeout is long
// enough that a loaded machine does not turn slow answers into timeouts, and
// short enough for the rows whose first attempt hangs.
func testClient(t testing.TB, url string, concurrency int) *llm.Client {
	t.Helper()
	c, err := llm.New(llm.Config{
		BaseURL:        url,
		MaxConcurrency: concurrency,
		RequestTimeout: 1500 * time.Millisecond,
		MaxAttempts:    4,
		BackoffBase:    5 * time.Millisecond,
		BackoffMax:     20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openCache(t testing.TB, dir string) *cache.Store {
	t.Helper()
	s, err := cache.Open(dir, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustPrompt(t testing.TB, name string) *prompts.Prompt {
	t.Helper()
	p, err := prompts.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newAnnotator(t testing.TB, c *llm.Client, opts Options) *Annotator {
	t.Helper()
	if opts.Prompt == nil {
		opts.Prompt = mustPrompt(t, "fineweb-edu")
	}
	if opts.Model == "" {
		opts.Model = "test-model"
	}
	a, err := New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// run annotates rows and returns the results by key, failing the test when a
// row is emitted twice.
func run(t testing.TB, a *Annotator, rows []Row) (map[string]Result, Stats, error) {
	t.Helper()
	out := map[string]Result{}
	st, err := a.Annotate(context.Background(), slices.Values(rows), func(r Result) {
		if _, dup := out[r.Key]; dup {
			t.Errorf("row %s emitted twice", r.Key)
		}
		out[r.Key] = r
	})
	return out, st, err
}

// promptIndex maps the prompt sent for each row to the row's index.
func promptIndex(a *Annotator, rows []Row) map[string]int {
	idx := map[string]int{}
	for i, r := range rows {
		req := a.Request(r.Text)
		idx[req.Messages[len(req.Messages)-1].Content] = i
	}
	return idx
}

// comparable strips what may differ between runs over the same cache.
func comparable(r Result) Result {
	r.CacheHit = false
	return r
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// expectedScore is the score the fake server gives the row's request.
func expectedScore(a *Annotator, text string) int64 {
	req := a.Request(text)
	return int64(fakeopenai.Score(req.Messages[len(req.Messages)-1].Content))
}

// distinctPrompts counts the distinct prompts the server received.
func distinctPrompts(srv *fakeopenai.Server) int {
	seen := map[string]bool{}
	for _, e := range srv.Events() {
		seen[e.Prompt] = true
	}
	return len(seen)
}
