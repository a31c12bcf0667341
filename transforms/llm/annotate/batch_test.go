package annotate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/internal/testutil/fakeopenai"
	"github.com/winnowlabs/winnow/transforms/llm/batch"
	"github.com/winnowlabs/winnow/transforms/llm/cost"
)

func batchOptions(state string) batch.Options {
	return batch.Options{StatePath: state, PollInterval: 5 * time.Millisecond, MaxPollInterval: 20 * time.Millisecond}
}

func runBatch(t testing.TB, a *Annotator, rows []Row, state string) (map[string]Result, error) {
	t.Helper()
	out, _, err := runBatchCtx(context.Background(), t, a, rows, state)
	return out, err
}

func runBatchCtx(ctx context.Context, t testing.TB, a *Annotator, rows []Row, state string) (map[string]Result, Stats, error) {
	t.Helper()
	out := map[string]Result{}
	st, err := a.AnnotateBatch(ctx, slices.Values(rows), batchOptions(state), func(r Result) {
		if _, dup := out[r.Key]; dup {
			t.Errorf("row %s emitted twice", r.Key)
		}
		out[r.Key] = r
	})
	return out, st, err
}

// Batch mode end to end: requests go as one JSONL file, results (answers,
// unparseable answers, failed lines, expired lines) are joined back to rows;
// expired rows are sent again by the next run and nothing else is.
func TestAnnotateBatch(t *testing.T) {
	rows := sampleRows(t)
	idx := map[string]int{}
	srv := fakeopenai.New(fakeopenai.Config{Fault: func(r *fakeopenai.ChatRequest, attempt int) fakeopenai.Fault {
		switch idx[r.Prompt()] % 6 {
		case 1:
			return fakeopenai.Fault{Kind: fakeopenai.Unparseable}
		case 2:
			return fakeopenai.Fault{Kind: fakeopenai.ServerError}
		case 3:
			if attempt == 1 {
				return fakeopenai.Fault{Kind: fakeopenai.Hang} // the line expires
			}
		}
		return fakeopenai.Fault{}
	}})
	defer srv.Close()
	dir := t.TempDir()
	state := filepath.Join(dir, "out", "_batch", "shard-00000.json")
	prices := cost.Default()
	prices.Models["test-model"] = cost.Price{Standard: cost.Rates{Input: 1, CachedInput: 0.5, Output: 4}}
	store := openCache(t, filepath.Join(dir, "cache"))
	a := newAnnotator(t, testClient(t, srv.URL, 4), Options{Processor: "json", Cache: store, Prices: prices})
	for k, v := range promptIndex(a, rows) {
		idx[k] = v
	}
	res, st, err := runBatchCtx(context.Background(), t, a, rows, state)
	if err != nil {
		t.Fatal(err)
	}
	if srv.BatchesCreated() != 1 || len(res) != 48 {
		t.Fatalf("%d batches, %d results", srv.BatchesCreated(), len(res))
	}
	files := srv.FilesUploaded("batch")
	lines := bytes.Split(bytes.TrimSpace(files[0]), []byte("\n"))
	if len(lines) != 48 {
		t.Fatalf("input file has %d lines", len(lines))
	}
	var line struct {
		CustomID string          `json:"custom_id"`
		Method   string          `json:"method"`
		URL      string          `json:"url"`
		Body     json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(lines[0], &line); err != nil || line.Method != "POST" || line.URL != "/v1/chat/completions" || len(line.CustomID) != 64 {
		t.Errorf("input line %s: %v", lines[0], err)
	}
	if !strings.Contains(string(line.Body), `"response_format":{"json_schema"`) && !strings.Contains(string(line.Body), `"json_schema"`) {
		t.Errorf("the line body has no schema: %s", line.Body)
	}
	for i, row := range rows {
		r := res[row.Key]
		switch i % 6 {
		case 1:
			if r.Status != Failed || r.Raw != fakeopenai.UnparseableAnswer {
				t.Errorf("row %d: %s %q", i, r.Status, r.Raw)
			}
		case 2:
			if r.Status != Failed || !strings.Contains(r.Reason, "batch request failed: HTTP 500") {
				t.Errorf("row %d: %s %q", i, r.Status, r.Reason)
			}
		case 3:
			if r.Status != NotAttempted || r.Reason != ReasonBatchNoRun {
				t.Errorf("row %d: %s %q", i, r.Status, r.Reason)
			}
		default:
			if r.Status != Annotated || r.Value["score"] != expectedScore(a, row.Text) || r.CostUSD <= 0 {
				t.Errorf("row %d: %s %v %v", i, r.Status, r.Value, r.CostUSD)
			}
		}
	}
	// Batch answers are billed at half price.
	u := res[rows[0].Key].Usage
	if full, _ := prices.Cost("test-model", "", false, u); res[rows[0].Key].CostUSD != full/2 {
		t.Errorf("batch cost %v, want %v", res[rows[0].Key].CostUSD, full/2)
	}
	if st.Annotated != 24 || st.Failed != 16 || st.NotAttempted != 8 || st.Requests != 40 || st.CostUSD <= 0 {
		t.Errorf("stats = %+v", st)
	}

	// The next run sends only the expired rows, in a new batch.
	res, _, err = runBatchCtx(context.Background(), t, a, rows, state)
	if err != nil {
		t.Fatal(err)
	}
	if srv.BatchesCreated() != 2 {
		t.Fatalf("%d batches after the second run, want 2", srv.BatchesCreated())
	}
	if n := bytes.Count(srv.FilesUploaded("batch")[1], []byte("\n")); n != 8 {
		t.Errorf("the second batch has %d lines, want the 8 expired rows", n)
	}
	for i, row := range rows {
		if i%6 == 3 && res[row.Key].Status != Annotated {
			t.Errorf("expired row %d: %s", i, res[row.Key].Status)
		}
	}
	// A third run finds everything in the cache.
	before, _ := srv.Counts()
	_, st, err = runBatchCtx(context.Background(), t, a, rows, state)
	if after, _ := srv.Counts(); err != nil || srv.BatchesCreated() != 2 || after != before || st.CacheHits != 48 {
		t.Errorf("third run: err %v, %d batches, %d new requests, stats %+v", err, srv.BatchesCreated(), after-before, st)
	}
	stData, _ := os.ReadFile(state)
	var stFile batch.State
	if err := json.Unmarshal(stData, &stFile); err != nil || len(stFile.Batches) != 2 || !stFile.Batches[0].Joined || stFile.Batches[0].Status != "completed" {
		t.Errorf("state file: %v\n%s", err, stData)
	}
}

// A run killed while its batch is in progress is resumed by the next run,
// which polls the recorded batch instead of creating another; so is a run
// killed after creating a batch but before recording its id.
func TestAnnotateBatchResumes(t *testing.T) {
	for _, lostID := range []bool{false, true} {
		name := "recorded id"
		if lostID {
			name = "id not recorded"
		}
		t.Run(name, func(t *testing.T) {
			rows := sampleRows(t)[:20]
			srv := fakeopenai.New(fakeopenai.Config{HoldBatches: true})
			defer srv.Close()
			dir := t.TempDir()
			state := filepath.Join(dir, "state.json")
			a := newAnnotator(t, testClient(t, srv.URL, 4), Options{Processor: "json", Cache: openCache(t, filepath.Join(dir, "cache"))})

			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				for srv.BatchesCreated() == 0 {
					time.Sleep(time.Millisecond)
				}
				for {
					st, err := batch.LoadState(context.Background(), state)
					if err == nil && len(st.Batches) == 1 && st.Batches[0].Status == "in_progress" {
						break
					}
					time.Sleep(time.Millisecond)
				}
				cancel() // the "kill": the batch is in progress and recorded
			}()
			res, _, err := runBatchCtx(ctx, t, a, rows, state)
			if !errors.Is(err, context.Canceled) || len(res) != 0 {
				t.Fatalf("first run: %v, %d results", err, len(res))
			}
			if lostID {
				st, _ := batch.LoadState(context.Background(), state)
				st.Batches[0].ID = ""
				if err := st.Save(context.Background(), state); err != nil {
					t.Fatal(err)
				}
			}
			srv.ReleaseBatches()
			res, _, err = runBatchCtx(context.Background(), t, a, rows, state)
			if err != nil {
				t.Fatal(err)
			}
			if n := srv.BatchesCreated(); n != 1 {
				t.Errorf("%d batches created, want the first one resumed", n)
			}
			if len(res) != 20 {
				t.Fatalf("%d results", len(res))
			}
			for _, r := range res {
				if r.Status != Annotated {
					t.Errorf("%s: %s %s", r.Key, r.Status, r.Reason)
				}
			}
			if n, _ := srv.Counts(); n != 20 {
				t.Errorf("the server ran %d requests, want 20", n)
			}
		})
	}
}

func TestBatchNeedsACache(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{})
	defer srv.Close()
	a := newAnnotator(t, testClient(t, srv.URL, 2), Options{})
	if _, err := runBatch(t, a, sampleRows(t)[:1], filepath.Join(t.TempDir(), "s.json")); err == nil {
		t.Error("batch mode without a cache was accepted")
	}
}
