package annotate

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/internal/testutil/fakeopenai"
	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/transforms/llm"
	"github.com/winnowlabs/winnow/transforms/llm/annotate"
	"github.com/winnowlabs/winnow/transforms/llm/cost"
	"github.com/winnowlabs/winnow/transforms/prompts"
	"github.com/winnowlabs/winnow/transforms/shardio"
)

// Environment of the child process that TestSIGKILLMidRunThenRerun kills.
const (
	childURL   = "WINNOW_ANNOTATE_CHILD_URL"
	childIn    = "WINNOW_ANNOTATE_CHILD_IN"
	childOut   = "WINNOW_ANNOTATE_CHILD_OUT"
	childCache = "WINNOW_ANNOTATE_CHILD_CACHE"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(childURL); url != "" {
		beam.Init()
		o := killOptions(url, os.Getenv(childIn), os.Getenv(childOut), os.Getenv(childCache))
		if _, err := Run(context.Background(), o); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	ptest.MainWithDefault(m, "prism")
}

// testModel is the model the tests ask for; testPrices gives it a price.
const testModel = "test-model"

func testPrices() *cost.Table {
	t := cost.Default()
	t.Models[testModel] = cost.Price{Standard: cost.Rates{Input: 1, CachedInput: 0.5, Output: 4}}
	return t
}

// testOptions annotates in into out with the fineweb-edu prompt, short
// timeouts and backoffs.
func testOptions(url, in, out, cacheDir string) Options {
	return Options{
		Common:         mapstep.Common{Inputs: []string{in}, Output: out, Quiet: true},
		Prompt:         mustPrompt("fineweb-edu"),
		Model:          testModel,
		BaseURL:        url,
		CacheDir:       cacheDir,
		Prices:         testPrices(),
		MaxConcurrency: 8,
		RequestTimeout: 1500 * time.Millisecond,
		MaxAttempts:    4,
		BackoffBase:    5 * time.Millisecond,
		BackoffMax:     20 * time.Millisecond,
	}
}

// mustPrompt returns a library prompt (the library's own tests check that
// every prompt loads).
func mustPrompt(name string) *prompts.Prompt {
	p, err := prompts.Get(name)
	if err != nil {
		panic(err)
	}
	return p
}

// sampleRow is a row of testdata/annotate/fineweb-edu-sample.jsonl.
type sampleRow struct {
	ID   string `json:"id"`
	Text string `json:"text"`
	raw  string
}

func sampleRows(t testing.TB) []sampleRow {
	t.Helper()
	f, err := os.Open(testutil.Testdata(t, "annotate/fineweb-edu-sample.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []sampleRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r sampleRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		r.raw = sc.Text()
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// writeShards writes lines as JSON Lines shards of perShard lines each,
// named <dir>/train/shard_NN.jsonl, and returns the shards' lines.
func writeShards(t testing.TB, dir string, lines []string, perShard int) [][]string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "train"), 0o755); err != nil {
		t.Fatal(err)
	}
	var shards [][]string
	for i := 0; i < len(lines); i += perShard {
		part := lines[i:min(i+perShard, len(lines))]
		name := filepath.Join(dir, "train", fmt.Sprintf("shard_%02d.jsonl", len(shards)))
		if err := os.WriteFile(name, []byte(strings.Join(part, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		shards = append(shards, part)
	}
	return shards
}

func rawLines(rows []sampleRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.raw
	}
	return out
}

// requests maps the prompt sent for each row to the row's index and request
// key, as the annotator of o builds them.
type requests struct {
	index map[string]int
	key   map[string]string // prompt -> request key
	score map[string]int64  // row id -> the fake server's score
}

func requestsOf(t testing.TB, o Options, rows []sampleRow) *requests {
	t.Helper()
	c, err := llm.New(llm.Config{BaseURL: o.BaseURL})
	if err != nil {
		t.Fatal(err)
	}
	a, err := annotate.New(c, annotate.Options{Prompt: o.Prompt, Processor: o.Processor, Model: o.Model, MaxTokens: o.MaxNewTokens, MaxTextLength: o.MaxTextLength})
	if err != nil {
		t.Fatal(err)
	}
	r := &requests{index: map[string]int{}, key: map[string]string{}, score: map[string]int64{}}
	for i, row := range rows {
		req := a.Request(row.Text)
		prompt := req.Messages[len(req.Messages)-1].Content
		r.index[prompt] = i
		r.key[prompt] = req.Key()
		r.score[row.ID] = int64(fakeopenai.Score(prompt))
	}
	return r
}

// outputRow is a row of an annotated output.
type outputRow struct {
	ID   string         `json:"id"`
	Text string         `json:"text"`
	Ann  map[string]any `json:"fineweb-edu"`
	raw  map[string]any
}

// readOutput reads every shard under dir/train in name order.
func readOutput(t testing.TB, dir string) (rows []outputRow, byShard map[string][]outputRow) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "train", "*.jsonl.zst"))
	sort.Strings(files)
	byShard = map[string][]outputRow{}
	for _, f := range files {
		for _, line := range readLines(t, f) {
			var r outputRow
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			_ = json.Unmarshal([]byte(line), &r.raw)
			rows = append(rows, r)
			byShard[filepath.Base(f)] = append(byShard[filepath.Base(f)], r)
		}
	}
	return rows, byShard
}

// errorRecord is a record of _errors/.
type errorRecord struct {
	Status    string `json:"status"`
	Reason    string `json:"reason"`
	RawAnswer string `json:"raw_answer"`
	Source    string `json:"source"`
	Line      int64  `json:"line"`
	Row       string `json:"row"`
}

func readErrors(t testing.TB, dir string) map[string]errorRecord {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "_errors", "train", "*.jsonl"))
	out := map[string]errorRecord{}
	for _, f := range files {
		for _, line := range readLines(t, f) {
			var e errorRecord
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatal(err)
			}
			var row struct{ ID string }
			_ = json.Unmarshal([]byte(e.Row), &row)
			if _, dup := out[row.ID]; dup {
				t.Errorf("row %s is twice in _errors/", row.ID)
			}
			out[row.ID] = e
		}
	}
	return out
}

func readLines(t testing.TB, path string) []string {
	t.Helper()
	rd, err := shardio.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var out []string
	for {
		line, err := rd.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(line))
	}
}

// checkEachRowOnce fails the test unless every row is in the output or in
// _errors exactly once, and the output rows are annotated with the fake
// server's score; it returns the output rows by id.
func checkEachRowOnce(t testing.TB, out string, rows []sampleRow, req *requests, errs map[string]errorRecord) map[string]outputRow {
	t.Helper()
	got, _ := readOutput(t, out)
	byID := map[string]outputRow{}
	for _, r := range got {
		if _, dup := byID[r.ID]; dup {
			t.Errorf("row %s is twice in the output", r.ID)
		}
		if _, failed := errs[r.ID]; failed {
			t.Errorf("row %s is both in the output and in _errors/", r.ID)
		}
		byID[r.ID] = r
	}
	for _, row := range rows {
		r, ok := byID[row.ID]
		_, failed := errs[row.ID]
		switch {
		case !ok && !failed:
			t.Errorf("row %s is neither in the output nor in _errors/", row.ID)
		case ok:
			if score, _ := r.Ann["score"].(float64); int64(score) != req.score[row.ID] || r.Text != row.Text {
				t.Errorf("row %s: annotation %v, want score %d", row.ID, r.Ann, req.score[row.ID])
			}
			if _, leak := r.Ann["cache_hit"]; leak {
				t.Errorf("row %s carries cache_hit", row.ID)
			}
		}
	}
	return byID
}

// promptsOf returns the distinct prompts the server received (and completed,
// when completed is set).
func promptsOf(srv *fakeopenai.Server, completed bool) map[string]bool {
	out := map[string]bool{}
	for _, e := range srv.Events() {
		if !completed || e.Completed {
			out[e.Prompt] = true
		}
	}
	return out
}
