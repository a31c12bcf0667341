package annotate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/internal/testutil/fakeopenai"
	"github.com/winnowlabs/winnow/transforms/llm"
	"github.com/winnowlabs/winnow/transforms/llm/cost"
	"github.com/winnowlabs/winnow/transforms/prompts"
)

// faultPlan gives row i the fault kind of i%8 (see TestEveryRowEndsAnnotatedOrFailed).
func faultPlan(idx map[string]int) func(*fakeopenai.ChatRequest, int) fakeopenai.Fault {
	return func(r *fakeopenai.ChatRequest, attempt int) fakeopenai.Fault {
		i, ok := idx[r.Prompt()]
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
			return fakeopenai.Fault{Kind: fakeopenai.Slow, Delay: 100 * 1e6}
		case 6:
			return fakeopenai.Fault{Kind: fakeopenai.ServerError}
		case 7:
			return fakeopenai.Fault{Kind: fakeopenai.BadRequest}
		}
		return fakeopenai.Fault{}
	}
}

// Under every fault kind each row ends annotated (with the server's score) or
// failed with its reason; a second run over the same cache sends nothing and
// gives the same results; a retry-errors run sends exactly the failed rows.
func TestEveryRowEndsAnnotatedOrFailed(t *testing.T) {
	for _, processor := range []string{"", prompts.ProcessorJSON} {
		t.Run("processor="+processor, func(t *testing.T) {
			rows := sampleRows(t)
			idx := map[string]int{}
			srv := fakeopenai.New(fakeopenai.Config{Latency: 5 * 1e6, Fault: faultPlan(idx)})
			defer srv.Close()
			dir := t.TempDir()
			store := openCache(t, dir)
			a := newAnnotator(t, testClient(t, srv.URL, 8), Options{Processor: processor, Cache: store})
			for k, v := range promptIndex(a, rows) {
				idx[k] = v
			}

			first, st, err := run(t, a, rows)
			if err != nil {
				t.Fatal(err)
			}
			if len(first) != len(rows) {
				t.Fatalf("%d results for %d rows", len(first), len(rows))
			}
			failed := map[string]bool{}
			for i, row := range rows {
				r := first[row.Key]
				switch i % 8 {
				case 0, 1, 2, 3, 5:
					if r.Status != Annotated || r.Value["score"] != expectedScore(a, row.Text) {
						t.Errorf("row %d (fault %d): %s %v %q", i, i%8, r.Status, r.Value, r.Reason)
					}
					if r.Raw == "" || r.Model != "test-model" || r.Usage.PromptTokens == 0 || r.RequestKey == "" {
						t.Errorf("row %d: missing answer details: %+v", i, r)
					}
				case 4:
					if r.Status != Failed || r.Raw != fakeopenai.UnparseableAnswer || !strings.Contains(r.Reason, "unparseable answer") {
						t.Errorf("row %d (unparseable): %s raw %q reason %q", i, r.Status, r.Raw, r.Reason)
					}
				case 6:
					if r.Status != Failed || !strings.Contains(r.Reason, "after 4 attempts: HTTP 500") {
						t.Errorf("row %d (always 500): %s %q", i, r.Status, r.Reason)
					}
				case 7:
					if r.Status != Failed || !strings.Contains(r.Reason, "HTTP 400") || !strings.Contains(r.Raw, "context length") {
						t.Errorf("row %d (400): %s %q %q", i, r.Status, r.Reason, r.Raw)
					}
				}
				if r.Status == Failed {
					failed[idxPrompt(a, row)] = true
				}
			}
			if st.Rows != 48 || st.Annotated != 30 || st.Failed != 18 || st.CacheHits != 0 {
				t.Errorf("stats = %+v", st)
			}
			// 48 first attempts, +1 for each 429/hang row, +2 per 500-twice
			// row, +3 per always-500 row (4 attempts).
			if want := int64(48 + 6 + 6 + 2*6 + 3*6); st.Requests != want || st.Retries != want-48 {
				t.Errorf("requests = %d, retries = %d; want %d, %d", st.Requests, st.Retries, want, want-48)
			}

			// A second run over the reopened cache sends nothing.
			srv.ResetEvents()
			store.Close()
			a2 := newAnnotator(t, testClient(t, srv.URL, 8), Options{Processor: processor, Cache: openCache(t, dir)})
			second, st2, err := run(t, a2, rows)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := srv.Counts(); n != 0 {
				t.Errorf("the second run sent %d requests", n)
			}
			if st2.CacheHits != 48 || st2.Requests != 0 || st2.CostUSD != 0 {
				t.Errorf("second run stats = %+v", st2)
			}
			for k, r := range first {
				if !reflect.DeepEqual(comparable(second[k]), comparable(r)) {
					t.Errorf("row %s differs on the second run:\n%+v\n%+v", k, second[k], r)
				}
			}

			// Retry-errors sends exactly the failed rows again.
			a3 := newAnnotator(t, testClient(t, srv.URL, 8), Options{Processor: processor, Cache: openCache(t, dir), RetryErrors: true})
			third, _, err := run(t, a3, rows)
			if err != nil {
				t.Fatal(err)
			}
			sent := map[string]bool{}
			for _, e := range srv.Events() {
				sent[e.Prompt] = true
			}
			if !reflect.DeepEqual(sortedKeys(sent), sortedKeys(failed)) {
				t.Errorf("retry-errors sent %d prompts, want the %d failed rows'", len(sent), len(failed))
			}
			for k, r := range third {
				if r.Status != first[k].Status {
					t.Errorf("row %s: %s after retry-errors, was %s (the faults persist)", k, r.Status, first[k].Status)
				}
			}
		})
	}
}

func idxPrompt(a *Annotator, row Row) string {
	req := a.Request(row.Text)
	return req.Messages[len(req.Messages)-1].Content
}

func TestRetryErrorsRecoversRows(t *testing.T) {
	rows := sampleRows(t)[:12]
	var down atomic.Bool
	down.Store(true)
	srv := fakeopenai.New(fakeopenai.Config{Fault: func(*fakeopenai.ChatRequest, int) fakeopenai.Fault {
		if down.Load() {
			return fakeopenai.Fault{Kind: fakeopenai.ServerError}
		}
		return fakeopenai.Fault{}
	}})
	defer srv.Close()
	store := openCache(t, t.TempDir())
	a := newAnnotator(t, testClient(t, srv.URL, 4), Options{Cache: store})
	res, st, err := run(t, a, rows)
	if err != nil || st.Failed != 12 {
		t.Fatalf("first run: %v, %+v", err, st)
	}
	// The server is back: a plain re-run still reports the failures ...
	down.Store(false)
	srv.ResetEvents()
	_, st, _ = run(t, newAnnotator(t, testClient(t, srv.URL, 4), Options{Cache: store}), rows)
	if n, _ := srv.Counts(); n != 0 || st.Failed != 12 {
		t.Errorf("plain re-run: sent %d, stats %+v", n, st)
	}
	// ... and retry-errors annotates them.
	res, st, _ = run(t, newAnnotator(t, testClient(t, srv.URL, 4), Options{Cache: store, RetryErrors: true}), rows)
	if n := distinctPrompts(srv); n != 12 || st.Annotated != 12 {
		t.Errorf("retry-errors: sent %d, stats %+v", n, st)
	}
	for _, r := range res {
		if r.Status != Annotated {
			t.Errorf("%s: %s %s", r.Key, r.Status, r.Reason)
		}
	}
	// Once answered, the failures are superseded for good.
	srv.ResetEvents()
	_, st, _ = run(t, newAnnotator(t, testClient(t, srv.URL, 4), Options{Cache: store, RetryErrors: true}), rows)
	if n, _ := srv.Counts(); n != 0 || st.Annotated != 12 {
		t.Errorf("retry-errors after recovery: sent %d, stats %+v", n, st)
	}
}

func TestDuplicateRowsShareOneRequest(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{Latency: 50 * 1e6})
	defer srv.Close()
	var rows []Row
	for i := range 20 {
		rows = append(rows, Row{Key: fmt.Sprint(i), Text: "the same document"})
	}
	a := newAnnotator(t, testClient(t, srv.URL, 8), Options{Cache: openCache(t, t.TempDir())})
	res, _, err := run(t, a, rows)
	if err != nil {
		t.Fatal(err)
	}
	if n := distinctPrompts(srv); n != 1 {
		t.Errorf("20 identical rows sent %d requests", n)
	}
	for _, r := range res {
		if r.Status != Annotated {
			t.Errorf("%s: %s", r.Key, r.Status)
		}
	}
}

func TestBudgetStopsCleanly(t *testing.T) {
	rows := sampleRows(t)
	srv := fakeopenai.New(fakeopenai.Config{})
	defer srv.Close()
	prices := cost.Default()
	prices.Models["test-model"] = cost.Price{Standard: cost.Rates{Input: 10, CachedInput: 5, Output: 40}}
	store := openCache(t, t.TempDir())
	const limit = 0.05
	budget := NewBudget(limit)
	opts := Options{Cache: store, Prices: prices, Budget: budget, MaxTokens: 200}
	a := newAnnotator(t, testClient(t, srv.URL, 4), opts)
	res, st, err := run(t, a, rows)
	if err != nil {
		t.Fatal(err)
	}
	if !budget.Reached() || st.Annotated == 0 || st.NotAttempted == 0 || st.Failed != 0 || st.Annotated+st.NotAttempted != 48 {
		t.Fatalf("stats = %+v, reached %v", st, budget.Reached())
	}
	if spent := budget.Spent(); spent > limit || spent <= 0 || spent != st.CostUSD {
		t.Errorf("spent %v (stats %v) with a limit of %v", spent, st.CostUSD, limit)
	}
	if n := distinctPrompts(srv); int64(n) != st.Annotated {
		t.Errorf("%d requests for %d annotated rows", n, st.Annotated)
	}
	notAttempted := map[string]bool{}
	for _, r := range res {
		if r.Status == NotAttempted {
			if r.Reason != ReasonBudget {
				t.Errorf("reason %q", r.Reason)
			}
			notAttempted[idxPrompt(a, rowByKey(rows, r.Key))] = true
		}
	}
	// A later run with more budget sends exactly the rows not attempted.
	srv.ResetEvents()
	opts.Budget = NewBudget(10)
	_, st, err = run(t, newAnnotator(t, testClient(t, srv.URL, 4), opts), rows)
	if err != nil || st.Annotated != 48 {
		t.Fatalf("second run: %v %+v", err, st)
	}
	sent := map[string]bool{}
	for _, e := range srv.Events() {
		sent[e.Prompt] = true
	}
	if !reflect.DeepEqual(sortedKeys(sent), sortedKeys(notAttempted)) {
		t.Errorf("the second run sent %d prompts, want the %d not attempted", len(sent), len(notAttempted))
	}
}

func rowByKey(rows []Row, key string) Row {
	for _, r := range rows {
		if r.Key == key {
			return r
		}
	}
	return Row{}
}

func TestTooManyFailuresInARowStopTheRun(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{Fault: func(*fakeopenai.ChatRequest, int) fakeopenai.Fault {
		return fakeopenai.Fault{Kind: fakeopenai.ServerError}
	}})
	defer srv.Close()
	rows := sampleRows(t)
	a := newAnnotator(t, testClient(t, srv.URL, 2), Options{MaxConsecutiveFailures: 5})
	res, _, err := run(t, a, rows)
	if err == nil || !strings.Contains(err.Error(), "in a row failed") {
		t.Fatalf("err = %v", err)
	}
	if len(res) >= len(rows) {
		t.Errorf("%d rows emitted after the run stopped", len(res))
	}
}

func TestFatalErrorStopsWithoutRecordingFailures(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{APIKey: "sk-right"})
	defer srv.Close()
	store := openCache(t, t.TempDir())
	a := newAnnotator(t, testClient(t, srv.URL, 4), Options{Cache: store})
	_, _, err := run(t, a, sampleRows(t))
	var fe *llm.FatalError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a FatalError", err)
	}
	if ans, fail := store.Len(); ans != 0 || fail != 0 {
		t.Errorf("cache has %d answers and %d failures after a 401", ans, fail)
	}
}

func TestTruncationTellsTheModel(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{})
	defer srv.Close()
	a := newAnnotator(t, testClient(t, srv.URL, 2), Options{MaxTextLength: 100})
	row := sampleRows(t)[0]
	if _, _, err := run(t, a, []Row{row}); err != nil {
		t.Fatal(err)
	}
	p := srv.Events()[0].Prompt
	n := len([]rune(row.Text))
	if !strings.Contains(p, fmt.Sprintf("[... truncated: the last %d of %d characters are omitted]", n-100, n)) || strings.Contains(p, row.Text) {
		t.Errorf("the prompt does not carry the truncated text and its note:\n%s", p)
	}
}

func TestSystemPromptAndSchema(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{})
	defer srv.Close()
	a := newAnnotator(t, testClient(t, srv.URL, 2), Options{Prompt: mustPrompt(t, "claude_rubric_code")})
	res, _, err := run(t, a, []Row{{Key: "c", Text: "def add(a, b):\n    return a + b\n"}})
	if err != nil {
		t.Fatal(err)
	}
	r := res["c"]
	if r.Status != Annotated {
		t.Fatalf("%s: %s", r.Status, r.Reason)
	}
	if _, ok := r.Value["criteria"].(map[string]any); !ok {
		t.Errorf("value = %v", r.Value)
	}
	req := a.Request("x")
	if req.Messages[0].Role != llm.RoleSystem || !strings.Contains(req.Messages[0].Content, "coding assistant") || req.Schema == nil {
		t.Errorf("request = %+v", req)
	}
	over := newAnnotator(t, testClient(t, srv.URL, 2), Options{Prompt: mustPrompt(t, "claude_rubric_code"), SystemPrompt: "Be terse."})
	if req := over.Request("x"); req.Messages[0].Content != "Be terse." {
		t.Errorf("system prompt override: %q", req.Messages[0].Content)
	}
	free := newAnnotator(t, testClient(t, srv.URL, 2), Options{Prompt: mustPrompt(t, "finemath")})
	if req := free.Request("x"); req.Schema != nil || len(req.Messages) != 1 || !strings.Contains(req.Messages[0].Content, "Final score: <total points>") {
		t.Errorf("finemath text request: %+v", req)
	}
}

func TestEstimate(t *testing.T) {
	rows := sampleRows(t)
	srv := fakeopenai.New(fakeopenai.Config{})
	defer srv.Close()
	store := openCache(t, t.TempDir())
	a := newAnnotator(t, testClient(t, srv.URL, 4), Options{Cache: store, Model: "gpt-4o-mini", MaxTokens: 200})
	dup := append(slices.Clone(rows), rows[0])
	est := a.Estimate(slices.Values(dup), false)
	if est.Rows != 49 || est.Requests != 48 || est.Cached != 0 || !est.Priced || est.CompletionTokens != 48*200 {
		t.Errorf("estimate = %+v", est)
	}
	var prompt int64
	for _, r := range rows {
		prompt += int64(a.Request(r.Text).EstimatePromptTokens())
	}
	if est.PromptTokens != prompt {
		t.Errorf("prompt tokens %d, want %d", est.PromptTokens, prompt)
	}
	if want := (float64(prompt)*0.15 + float64(48*200)*0.60) / 1e6; est.CostUSD < want*0.999 || est.CostUSD > want*1.001 {
		t.Errorf("cost %v, want %v", est.CostUSD, want)
	}
	if n, _ := srv.Counts(); n != 0 {
		t.Errorf("a dry run sent %d requests", n)
	}
	if batch := a.Estimate(slices.Values(rows), true); batch.CostUSD > est.CostUSD*0.501 {
		t.Errorf("batch estimate %v is not half of %v", batch.CostUSD, est.CostUSD)
	}
	if _, _, err := run(t, a, rows[:10]); err != nil {
		t.Fatal(err)
	}
	if est := a.Estimate(slices.Values(rows), false); est.Cached != 10 || est.Requests != 38 {
		t.Errorf("after 10 rows: %+v", est)
	}
}

// The API key is sent to the server and appears nowhere else: not in the
// cache, batch state, results, error records or errors.
func TestAPIKeyIsNeverWritten(t *testing.T) {
	const key = "sk-proj-SECRET-e2b1d7"
	rows := sampleRows(t)[:16]
	idx := map[string]int{}
	srv := fakeopenai.New(fakeopenai.Config{APIKey: key, Fault: faultPlan(idx)})
	defer srv.Close()
	dir := t.TempDir()
	store := openCache(t, filepath.Join(dir, "cache"))
	c, err := llm.New(llm.Config{BaseURL: srv.URL, APIKey: llm.Secret(key), MaxAttempts: 2, RequestTimeout: 300 * 1e6, BackoffBase: 1e6, BackoffMax: 2e6})
	if err != nil {
		t.Fatal(err)
	}
	a := newAnnotator(t, c, Options{Cache: store})
	for k, v := range promptIndex(a, rows) {
		idx[k] = v
	}
	res, _, err := run(t, a, rows)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, r := range res {
		b, _ := json.Marshal(r.ErrorRecord())
		b2, _ := json.Marshal(r.Annotation())
		seen = append(seen, fmt.Sprintf("%+v", r), string(b), string(b2))
	}
	bs, err := runBatch(t, a, rows, filepath.Join(dir, "out", "batch-state.json"))
	if err != nil {
		t.Fatal(err)
	}
	seen = append(seen, fmt.Sprintf("%+v", bs))
	for _, s := range seen {
		if strings.Contains(s, "SECRET") {
			t.Fatalf("the key shows in %s", s)
		}
	}
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), "SECRET") {
			t.Errorf("the key is written in %s", path)
		}
		return nil
	})
	for _, e := range srv.Events() {
		if !e.Batch && !e.Authorized {
			t.Error("a request went without the key")
		}
	}
}

func TestAnnotateStopsWhenContextIsDone(t *testing.T) {
	srv := fakeopenai.New(fakeopenai.Config{Fault: func(*fakeopenai.ChatRequest, int) fakeopenai.Fault {
		return fakeopenai.Fault{Kind: fakeopenai.Hang}
	}})
	defer srv.Close()
	store := openCache(t, t.TempDir())
	c, _ := llm.New(llm.Config{BaseURL: srv.URL, MaxConcurrency: 4})
	a := newAnnotator(t, c, Options{Cache: store})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for n := 0; n < 4; n, _ = srv.Counts() {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	n := 0
	_, err := a.Annotate(ctx, slices.Values(sampleRows(t)), func(Result) { n++ })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	if ans, fail := store.Len(); n != 0 || ans != 0 || fail != 0 {
		t.Errorf("a cancelled run emitted %d rows and recorded %d answers, %d failures", n, ans, fail)
	}
}

func TestProgressLine(t *testing.T) {
	st := Stats{Rows: 250, Failed: 3, CacheHits: 100, Requests: 160, Retries: 10, CostUSD: 0.0123}
	got := ProgressLine(st, 1000, 10*time.Second)
	want := "250/1000 rows (25.0%), 25.0 rows/s, 3 failed, 100 cached, 160 requests (10 retries), $0.0123, ETA 30s"
	if got != want {
		t.Errorf("ProgressLine = %q\nwant           %q", got, want)
	}
	if got := ProgressLine(st, 0, 0); got != "250 rows, 0.0 rows/s, 3 failed, 100 cached, 160 requests (10 retries), $0.0123" {
		t.Errorf("ProgressLine without total = %q", got)
	}
}
