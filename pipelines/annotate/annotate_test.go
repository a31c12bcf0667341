package annotate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/internal/testutil/fakecloud"
	"github.com/winnowlabs/winnow/internal/testutil/fakeopenai"
	"github.com/winnowlabs/winnow/transforms/shardmap"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// faultPlan gives the request of row i the fault of i%8: none, a 429 with
// Retry-After, two 500s, a hang (the client times out), an unparseable
// answer, a slow answer, 500 for ever, 400.
func faultPlan(req *requests) func(*fakeopenai.ChatRequest, int) fakeopenai.Fault {
	return func(r *fakeopenai.ChatRequest, attempt int) fakeopenai.Fault {
		i, ok := req.index[r.Prompt()]
		if !ok {
			return fakeopenai.Fault{Kind: fakeopenai.BadRequest}
		}
		switch i % 8 {
		case 1:
			if attempt == 1 {
				return fakeopenai.Fault{Kind: fakeopenai.RateLimit, RetryAfter: "1"}
			}
		case 2:
			if attempt <= 2 {
				return fakeopenai.Fault{Kind: fakeopenai.ServerError}
			}
		case 3:
			if attempt == 1 {
				return fakeopenai.Fault{Kind: fakeopenai.Hang}
			}
		case 4:
			return fakeopenai.Fault{Kind: fakeopenai.Unparseable}
		case 5:
			return fakeopenai.Fault{Kind: fakeopenai.Slow, Delay: 100e6}
		case 6:
			return fakeopenai.Fault{Kind: fakeopenai.ServerError}
		case 7:
			return fakeopenai.Fault{Kind: fakeopenai.BadRequest}
		}
		return fakeopenai.Fault{}
	}
}

// Under every fault the server injects, each row ends in the output with its
// score or in _errors/ with its reason (and a row without a text in _errors/
// as a bad row); rows keep their order; the manifest holds the cost ledger.
// A second run sends nothing; a run into a new directory over the same cache
// sends nothing and writes the same bytes; --retry-errors sends exactly the
// failed rows again.
func TestEveryRowEndsAnnotatedOrInErrors(t *testing.T) {
	ctx := context.Background()
	rows := sampleRows(t)
	dir := t.TempDir()
	in, out, cacheDir := filepath.Join(dir, "in"), filepath.Join(dir, "out"), filepath.Join(dir, "cache")
	lines := rawLines(rows)
	const noText = `{"id":"no-text","title":"a row without text"}`
	lines = append(lines[:20:20], append([]string{noText}, lines[20:]...)...)
	shards := writeShards(t, in, lines, 17)

	o := testOptions("", in, out, cacheDir)
	req := requestsOf(t, o, rows)
	srv := fakeopenai.New(fakeopenai.Config{Latency: 5e6, Fault: faultPlan(req)})
	defer srv.Close()
	o.BaseURL = srv.URL
	o.OnBadRow = "skip"

	res, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	errs := readErrors(t, out)
	byID := checkEachRowOnce(t, out, rows, req, errs)
	for i, row := range rows {
		e, failed := errs[row.ID]
		switch i % 8 {
		case 4:
			if !failed || e.RawAnswer != fakeopenai.UnparseableAnswer || !strings.Contains(e.Reason, "unparseable answer") {
				t.Errorf("row %d (unparseable): %+v", i, e)
			}
		case 6:
			if !failed || !strings.Contains(e.Reason, "after 4 attempts: HTTP 500") {
				t.Errorf("row %d (always 500): %+v", i, e)
			}
		case 7:
			if !failed || !strings.Contains(e.Reason, "HTTP 400") || !strings.Contains(e.RawAnswer, "context length") {
				t.Errorf("row %d (400): %+v", i, e)
			}
		default:
			if failed {
				t.Errorf("row %d failed: %+v", i, e)
			}
			if a := byID[row.ID].Ann; a["raw_answer"] == "" || a["model"] != testModel || a["cost_usd"].(float64) <= 0 {
				t.Errorf("row %d: annotation %v", i, a)
			}
		}
		if failed && (e.Status != "failed" || e.Row != row.raw || !strings.HasSuffix(e.Source, ".jsonl")) {
			t.Errorf("row %d: error record %+v", i, e)
		}
	}
	if e := errs["no-text"]; e.Status != "bad-row" || e.Line != 4 || !strings.Contains(e.Reason, ".text") {
		t.Errorf("the row without text: %+v", e)
	}
	// Output shards keep their input's rows in order.
	_, outShards := readOutput(t, out)
	for i, part := range shards {
		var want []string
		for _, l := range part {
			var r struct{ ID string }
			json.Unmarshal([]byte(l), &r)
			if _, failed := errs[r.ID]; !failed {
				want = append(want, r.ID)
			}
		}
		var got []string
		for _, r := range outShards[fmt.Sprintf("shard_%02d.jsonl.zst", i)] {
			got = append(got, r.ID)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("shard %d holds %v, want %v", i, got, want)
		}
	}

	// Counters and the ledger.
	c := res.Counters
	wantRequests := int64(48 + 6 + 2*6 + 6 + 3*6) // first attempts; a retry per 429 and hang row, 2 per 500-twice row, 3 per always-500 row
	if c["requests"] != wantRequests || c["retries"] != wantRequests-48 || c["cache_hits"] != 0 ||
		c["annotated"] != 30 || c["failed"] != 18 || c["rows_in"] != 49 || c["rows_out"] != 30 || c["bad_rows"] != 19 {
		t.Errorf("counters: %s", c)
	}
	l := res.Summary.Ledger
	if l.Annotated != 30 || l.Failed != 18 || l.Answers != 36 || l.PromptTokens == 0 || l.CompletionTokens == 0 || l.CostUSD <= 0 {
		t.Errorf("ledger %+v", l)
	}
	if math.Abs(l.CostUSD-res.Spent.CostUSD) > 1e-5 || res.Summary.Field != "fineweb-edu" || res.Summary.Processor != "eduscore0-5" {
		t.Errorf("summary %+v, spent %+v", res.Summary, res.Spent)
	}
	var sum Ledger
	for _, of := range res.Manifest.Outputs {
		var sl Ledger
		if err := json.Unmarshal(of.Extra, &sl); err != nil {
			t.Fatal(err)
		}
		sum = sum.Add(sl)
	}
	if sum != l {
		t.Errorf("the shards' ledgers add up to %+v, the total is %+v", sum, l)
	}
	manifest, _ := os.ReadFile(filepath.Join(out, shardmap.ManifestName))
	if bytes.Contains(manifest, []byte("api_key\":\"")) || !bytes.Contains(manifest, []byte(`"ledger"`)) {
		t.Errorf("manifest:\n%s", manifest)
	}

	// A second run resumes every shard and sends nothing.
	srv.ResetEvents()
	before := snapshot(t, out)
	res2, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := srv.Counts(); n != 0 || res2.Counters["shards_resumed"] != int64(len(shards)) {
		t.Errorf("second run: %d requests, counters %s", n, res2.Counters)
	}
	if res2.Summary.Ledger != l {
		t.Errorf("second run ledger %+v, want %+v", res2.Summary.Ledger, l)
	}
	if after := snapshot(t, out); !reflect.DeepEqual(after, before) {
		t.Error("the second run changed the output")
	}

	// A new output directory over the same cache: nothing sent, same bytes.
	out2 := filepath.Join(dir, "out2")
	o2 := o
	o2.Output = out2
	if _, err := Run(ctx, o2); err != nil {
		t.Fatal(err)
	}
	if n, _ := srv.Counts(); n != 0 {
		t.Errorf("a run from the cache sent %d requests", n)
	}
	if a, b := snapshot(t, out), snapshot(t, out2); !reflect.DeepEqual(replacePaths(a, out), replacePaths(b, out2)) {
		t.Error("the run answered from the cache differs from the first")
	}

	// --retry-errors sends exactly the failed rows again.
	o.RetryErrors = true
	res3, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	sent := promptsOf(srv, false)
	for p := range sent {
		if i := req.index[p]; i%8 < 4 || i%8 == 5 {
			t.Errorf("retry-errors sent row %d, which was annotated", i)
		}
	}
	if len(sent) != 18 || res3.Counters["failed"] != 18 {
		t.Errorf("retry-errors sent %d distinct requests, want the 18 failed rows; counters %s", len(sent), res3.Counters)
	}
}

// snapshot reads every file under dir but the completion markers.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	})
	return out
}

// replacePaths removes dir from the files' contents (manifests and markers
// name their paths).
func replacePaths(files map[string]string, dir string) map[string]string {
	out := map[string]string{}
	for k, v := range files {
		out[k] = strings.ReplaceAll(v, dir, "DIR")
	}
	return out
}

// A dry run sends nothing: it counts rows, cached rows, requests, tokens and
// cost; after a run it finds the shards committed, and over the same cache in
// a new directory every row cached.
func TestDryRunSendsNothing(t *testing.T) {
	ctx := context.Background()
	rows := sampleRows(t)
	dir := t.TempDir()
	in, out, cacheDir := filepath.Join(dir, "in"), filepath.Join(dir, "out"), filepath.Join(dir, "cache")
	writeShards(t, in, append(rawLines(rows), `{"id":"no-text"}`), 20)
	srv := fakeopenai.New(fakeopenai.Config{})
	defer srv.Close()
	o := testOptions(srv.URL, in, out, cacheDir)
	o.OnBadRow = "skip"

	est, err := DryRun(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if est.Rows != 48 || est.Cached != 0 || est.Requests != 48 || est.BadRows != 1 || est.Shards != 3 || est.Committed != 0 ||
		est.PromptTokens < 48*500 || est.CompletionTokens != 48*300 || est.CostUSD <= 0 || !est.Priced {
		t.Errorf("estimate %+v", est)
	}
	if n, _ := srv.Counts(); n != 0 {
		t.Errorf("the dry run sent %d requests", n)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the dry run wrote its output directory: %v", err)
	}
	if _, err := os.Stat(cacheDir); !os.IsNotExist(err) {
		t.Errorf("the dry run created the cache: %v", err)
	}
	// Batch prices are half.
	o.Batch = true
	if b, err := DryRun(ctx, o); err != nil || math.Abs(b.CostUSD-est.CostUSD/2) > 1e-9 {
		t.Errorf("batch estimate %v, want half of %v (%v)", b.CostUSD, est.CostUSD, err)
	}
	o.Batch = false

	res, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Spent.CostUSD <= 0 || res.Spent.CostUSD > est.CostUSD {
		t.Errorf("spent %v, estimated %v (an upper bound with the assumed answer length)", res.Spent.CostUSD, est.CostUSD)
	}
	srv.ResetEvents()
	if est, err = DryRun(ctx, o); err != nil || est.Committed != 3 || est.Rows != 0 || est.Requests != 0 {
		t.Errorf("after the run: %+v, %v", est, err)
	}
	o.Output = filepath.Join(dir, "out2")
	if est, err = DryRun(ctx, o); err != nil || est.Rows != 48 || est.Cached != 48 || est.Requests != 0 || est.CostUSD != 0 {
		t.Errorf("over the cache: %+v, %v", est, err)
	}
	if n, _ := srv.Counts(); n != 0 {
		t.Errorf("the dry runs sent %d requests", n)
	}
}

// A run with a budget stops sending once it is reached: the shards done stay
// committed, the others uncommitted; the next run sends only what was never
// answered and finishes, every row annotated once.
func TestBudgetStopThenResume(t *testing.T) {
	ctx := context.Background()
	rows := sampleRows(t)
	dir := t.TempDir()
	in, out, cacheDir := filepath.Join(dir, "in"), filepath.Join(dir, "out"), filepath.Join(dir, "cache")
	writeShards(t, in, rawLines(rows), 12)
	srv := fakeopenai.New(fakeopenai.Config{Latency: 2e6})
	defer srv.Close()
	o := testOptions(srv.URL, in, out, cacheDir)
	o.ShardsInFlight, o.MaxConcurrency = 1, 4
	req := requestsOf(t, o, rows)
	// The estimate assumes 300-token answers; the fake server's are about
	// 30 tokens, so a run costs about half the estimate: a budget of 30%
	// of it lets the run finish one or two of the four shards.
	est, err := DryRun(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	o.MaxBudget = 0.3 * est.CostUSD

	res, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Incomplete == 0 || res.Incomplete == 4 || res.Summary.IncompleteShards != res.Incomplete {
		t.Fatalf("incomplete shards: %d (summary %d)", res.Incomplete, res.Summary.IncompleteShards)
	}
	if res.Spent.CostUSD > o.MaxBudget || res.Spent.NotAttempted == 0 {
		t.Errorf("spent %+v with a budget of %v", res.Spent, o.MaxBudget)
	}
	committed := len(res.Manifest.Outputs)
	if committed != 4-int(res.Incomplete) {
		t.Errorf("%d outputs in the manifest, %d shards incomplete", committed, res.Incomplete)
	}
	got, _ := readOutput(t, out)
	if len(got) != 12*committed {
		t.Errorf("%d rows in the committed shards, want %d", len(got), 12*committed)
	}
	answered := promptsOf(srv, true)
	srv.ResetEvents()

	o.MaxBudget = 0
	res, err = Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Incomplete != 0 || res.Counters["shards_resumed"] != int64(committed) {
		t.Errorf("resume: counters %s", res.Counters)
	}
	sent := promptsOf(srv, false)
	for p := range sent {
		if answered[p] {
			t.Errorf("row %d was answered by the first run and sent again", req.index[p])
		}
	}
	if len(sent)+len(answered) != 48 {
		t.Errorf("%d requests answered, then %d sent; want 48 in all", len(answered), len(sent))
	}
	checkEachRowOnce(t, out, rows, req, nil)
	if got, _ := readOutput(t, out); len(got) != 48 {
		t.Errorf("%d rows in the output, want 48", len(got))
	}
}

// Batch mode through the pipeline: each shard's requests go as a batch, with
// its state under _batch/; results are joined back to rows; a shard whose
// batch lines expired stays uncommitted and the next run sends only those.
// The output directory is local, then on gs:// (an in-process fake GCS).
func TestBatchMode(t *testing.T) {
	t.Run("local", func(t *testing.T) {
		testBatchMode(t, filepath.Join(t.TempDir(), "out"))
	})
	t.Run("gcs", func(t *testing.T) {
		fakecloud.StartGCS(t, "annotations")
		testBatchMode(t, "gs://annotations/out")
	})
}

func testBatchMode(t *testing.T, out string) {
	ctx := context.Background()
	rows := sampleRows(t)[:24]
	dir := t.TempDir()
	in, cacheDir := filepath.Join(dir, "in"), filepath.Join(dir, "cache")
	writeShards(t, in, rawLines(rows), 12)
	o := testOptions("", in, out, cacheDir)
	o.Batch, o.BatchPollInterval, o.Processor = true, 5e6, "json"
	req := requestsOf(t, o, rows)
	srv := fakeopenai.New(fakeopenai.Config{Fault: func(r *fakeopenai.ChatRequest, attempt int) fakeopenai.Fault {
		i := req.index[r.Prompt()]
		switch {
		case i%6 == 1:
			return fakeopenai.Fault{Kind: fakeopenai.Unparseable}
		case i%6 == 2:
			return fakeopenai.Fault{Kind: fakeopenai.ServerError}
		case i == 3 && attempt == 1:
			return fakeopenai.Fault{Kind: fakeopenai.Hang} // the line expires
		}
		return fakeopenai.Fault{}
	}})
	defer srv.Close()
	o.BaseURL = srv.URL

	res, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Incomplete != 1 || len(res.Manifest.Outputs) != 1 || srv.BatchesCreated() != 2 {
		t.Fatalf("first run: %d incomplete, %d outputs, %d batches", res.Incomplete, len(res.Manifest.Outputs), srv.BatchesCreated())
	}
	for _, s := range []string{"shard_00.json", "shard_01.json"} {
		if ok, err := storage.Exists(ctx, storage.Join(out, BatchDir, "train", s)); !ok || err != nil {
			t.Errorf("batch state %s: %v %v", s, ok, err)
		}
	}
	res, err = Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	uploads := srv.FilesUploaded("batch")
	if res.Incomplete != 0 || res.Counters["shards_resumed"] != 1 || len(uploads) != 3 {
		t.Fatalf("second run: counters %s, %d batch files", res.Counters, len(uploads))
	}
	if n := bytes.Count(uploads[2], []byte("\n")); n != 1 {
		t.Errorf("the second run's batch has %d requests, want the one that expired", n)
	}
	local := localCopy(t, out)
	errs := readErrors(t, local)
	checkEachRowOnce(t, local, rows, req, errs)
	for i, row := range rows {
		e, failed := errs[row.ID]
		switch i % 6 {
		case 1:
			if !failed || e.RawAnswer != fakeopenai.UnparseableAnswer {
				t.Errorf("row %d: %+v", i, e)
			}
		case 2:
			if !failed || !strings.Contains(e.Reason, "HTTP 500") {
				t.Errorf("row %d: %+v", i, e)
			}
		default:
			if failed {
				t.Errorf("row %d failed: %+v", i, e)
			}
		}
	}
	// Batch answers are priced at the batch rate.
	if l := res.Summary.Ledger; l.Annotated != 16 || l.Failed != 8 || l.CostUSD <= 0 {
		t.Errorf("ledger %+v", l)
	}
}

// localCopy returns dir itself when it is local, else a local copy of the
// files below it.
func localCopy(t *testing.T, dir string) string {
	t.Helper()
	if storage.IsLocal(dir) {
		return dir
	}
	ctx := context.Background()
	files, err := storage.ListTree(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	local := t.TempDir()
	for _, f := range files {
		rel, err := storage.Rel(dir, f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := storage.ReadFile(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(local, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return local
}

// A failure no row can survive (here a refused API key) stops the run with
// the server's reason; nothing is committed, and no row is recorded as
// failed, so a run with the right key annotates everything.
func TestFatalErrorStopsTheRun(t *testing.T) {
	ctx := context.Background()
	rows := sampleRows(t)[:16]
	dir := t.TempDir()
	in, out, cacheDir := filepath.Join(dir, "in"), filepath.Join(dir, "out"), filepath.Join(dir, "cache")
	writeShards(t, in, rawLines(rows), 8)
	srv := fakeopenai.New(fakeopenai.Config{APIKey: "right-key"})
	defer srv.Close()
	o := testOptions(srv.URL, in, out, cacheDir)
	o.APIKeyEnv = "WINNOW_TEST_ANNOTATE_KEY"
	t.Setenv(o.APIKeyEnv, "wrong-key")
	_, err := Run(ctx, o)
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-key") {
		t.Fatalf("err = %v", err)
	}
	if markers, _ := filepath.Glob(filepath.Join(out, "_done", "train", "*")); len(markers) != 0 {
		t.Errorf("shards committed: %v", markers)
	}
	t.Setenv(o.APIKeyEnv, "right-key")
	res, err := Run(ctx, o)
	if err != nil || res.Summary.Ledger.Annotated != 16 {
		t.Fatalf("with the right key: %v, %+v", err, res)
	}
}

// A fatal answer while the shard's window of unwritten rows is full stops
// the run with the server's reason instead of hanging: row 0 hangs until
// its timeout while the next 1,299 rows are answered (filling the window
// of 1,024), then its retry meets an exhausted quota.
func TestFatalErrorWithAFullWindow(t *testing.T) {
	rows := sampleRows(t)
	dir := t.TempDir()
	in, out, cacheDir := filepath.Join(dir, "in"), filepath.Join(dir, "out"), filepath.Join(dir, "cache")
	lines := rawLines(rows)
	shard := []string{lines[0]}
	for i := 0; len(shard) < 1300; i++ {
		shard = append(shard, lines[1+i%(len(lines)-1)])
	}
	writeShards(t, in, shard, len(shard))
	o := testOptions("", in, out, cacheDir)
	req := requestsOf(t, o, rows)
	srv := fakeopenai.New(fakeopenai.Config{Fault: func(r *fakeopenai.ChatRequest, attempt int) fakeopenai.Fault {
		if req.index[r.Prompt()] != 0 {
			return fakeopenai.Fault{}
		}
		if attempt == 1 {
			return fakeopenai.Fault{Kind: fakeopenai.Hang}
		}
		return fakeopenai.Fault{Kind: fakeopenai.InsufficientQuota}
	}})
	defer srv.Close()
	o.BaseURL = srv.URL
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), o)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "quota") {
			t.Errorf("err = %v, want the quota error", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the run hangs after a fatal answer with a full window")
	}
}

// A --retry-errors run that cannot finish the shards it re-opens (here the
// budget allows no request) leaves their earlier outputs in place.
func TestRetryErrorsOverBudgetKeepsOutputs(t *testing.T) {
	ctx := context.Background()
	rows := sampleRows(t)
	dir := t.TempDir()
	in, out, cacheDir := filepath.Join(dir, "in"), filepath.Join(dir, "out"), filepath.Join(dir, "cache")
	writeShards(t, in, rawLines(rows), 12)
	o := testOptions("", in, out, cacheDir)
	req := requestsOf(t, o, rows)
	srv := fakeopenai.New(fakeopenai.Config{Fault: func(r *fakeopenai.ChatRequest, attempt int) fakeopenai.Fault {
		if req.index[r.Prompt()]%4 == 0 {
			return fakeopenai.Fault{Kind: fakeopenai.Unparseable}
		}
		return fakeopenai.Fault{}
	}})
	defer srv.Close()
	o.BaseURL = srv.URL
	if _, err := Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	before, _ := filepath.Glob(filepath.Join(out, "train", "*.jsonl.zst"))
	if len(before) == 0 {
		t.Fatal("no output")
	}
	o.RetryErrors, o.MaxBudget = true, 1e-9
	res, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Incomplete == 0 {
		t.Errorf("the re-opened shards were finished without a budget")
	}
	for _, f := range before {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("an earlier output was removed: %v", err)
		}
	}
}
