package batch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/transforms/llm"
	"github.com/winnowlabs/winnow/transforms/llm/cache"
	"github.com/winnowlabs/winnow/transforms/storage"
)

func parse(t *testing.T, s string) *resultLine {
	t.Helper()
	var l resultLine
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		t.Fatal(err)
	}
	return &l
}

// Lines as OpenAI writes them in batch output and error files.
func TestEntryOf(t *testing.T) {
	ok := `{"id": "batch_req_1", "custom_id": "k1", "response": {"status_code": 200, "request_id": "r", "body": {
		"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini-2024-07-18",
		"choices": [{"index": 0, "message": {"role": "assistant", "content": "Final score: 3"}, "finish_reason": "stop"}],
		"usage": {"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105, "prompt_tokens_details": {"cached_tokens": 64}}}}, "error": null}`
	e, run, err := entryOf(parse(t, ok))
	if err != nil || !run || e.Kind != cache.KindAnswer || e.Content != "Final score: 3" || !e.Batch || e.Key != "k1" ||
		e.Model != "gpt-4o-mini-2024-07-18" || e.Usage != (llm.Usage{PromptTokens: 100, CachedPromptTokens: 64, CompletionTokens: 5}) {
		t.Errorf("answer line: %+v %v %v", e, run, err)
	}
	failed := `{"id": "batch_req_2", "custom_id": "k2", "response": {"status_code": 400, "request_id": "r",
		"body": {"error": {"message": "maximum context length exceeded", "type": "invalid_request_error"}}}, "error": null}`
	e, run, err = entryOf(parse(t, failed))
	if err != nil || !run || e.Kind != cache.KindFailure || e.Status != 400 || !strings.Contains(e.Reason, "HTTP 400: maximum context length") {
		t.Errorf("failed line: %+v %v %v", e, run, err)
	}
	expired := `{"id": "batch_req_3", "custom_id": "k3", "response": null, "error": {"code": "batch_expired", "message": "expired"}}`
	if _, run, err := entryOf(parse(t, expired)); err != nil || run {
		t.Errorf("expired line: ran %v, %v", run, err)
	}
	other := `{"id": "batch_req_4", "custom_id": "k4", "response": null, "error": {"code": "invalid_json_line", "message": "bad line"}}`
	if e, run, err := entryOf(parse(t, other)); err != nil || !run || e.Kind != cache.KindFailure || !strings.Contains(e.Reason, "invalid_json_line") {
		t.Errorf("error line: %+v %v %v", e, run, err)
	}
}

func TestEncodeSplitsBatches(t *testing.T) {
	var jobs []Job
	for i := range 10 {
		req := &llm.Request{BaseURL: "http://x/v1", Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: fmt.Sprint("doc ", i)}}}
		jobs = append(jobs, Job{Request: req, Key: req.Key()})
	}
	r := &runner{opts: Options{MaxRequests: 4, MaxBytes: 1 << 20}.withDefaults()}
	data, keys, rest, err := r.encode(jobs)
	if err != nil || len(keys) != 4 || len(rest) != 6 || bytes.Count(data, []byte("\n")) != 4 {
		t.Fatalf("by count: %d keys, %d left, %v", len(keys), len(rest), err)
	}
	var l struct {
		CustomID string `json:"custom_id"`
		Body     struct {
			Model    string `json:"model"`
			Messages []struct{ Content string }
		} `json:"body"`
	}
	if err := json.Unmarshal(bytes.SplitN(data, []byte("\n"), 2)[0], &l); err != nil || l.CustomID != jobs[0].Key || l.Body.Model != "m" || l.Body.Messages[0].Content != "doc 0" {
		t.Errorf("first line %+v: %v", l, err)
	}
	lineLen := bytes.IndexByte(data, '\n') + 1
	r.opts.MaxRequests, r.opts.MaxBytes = 100, 3*lineLen+lineLen/2
	_, keys, rest, _ = r.encode(jobs)
	if len(keys) != 3 || len(rest) != 7 {
		t.Errorf("by size: %d keys, %d left", len(keys), len(rest))
	}
	r.opts.MaxBytes = 1 // a single line larger than the limit still goes alone
	if _, keys, _, _ = r.encode(jobs); len(keys) != 1 {
		t.Errorf("oversized line: %d keys", len(keys))
	}
}

// The state file round-trips, locally and on an object store (memfs://
// here; gs:// and s3:// go through the same storage calls).
func TestStateFile(t *testing.T) {
	ctx := context.Background()
	for name, dir := range map[string]string{"local": t.TempDir(), "memfs": "memfs://batch-state-test"} {
		t.Run(name, func(t *testing.T) {
			path := storage.Join(dir, "sub", "state.json")
			st, err := LoadState(ctx, path)
			if err != nil || len(st.Batches) != 0 || st.Pending() {
				t.Fatalf("missing state: %+v %v", st, err)
			}
			st.Batches = append(st.Batches, BatchState{InputFileID: "file-1", Keys: []string{"a", "b"}, Requests: 2})
			if err := st.Save(ctx, path); err != nil {
				t.Fatal(err)
			}
			again, err := LoadState(ctx, path)
			if err != nil || !again.Pending() || again.Batches[0].InputFileID != "file-1" || len(again.Batches[0].Keys) != 2 {
				t.Errorf("reloaded: %+v %v", again, err)
			}
			files, err := storage.ListTree(ctx, dir)
			if err != nil || len(files) != 1 {
				t.Errorf("temporary files left: %v %v", files, err)
			}
			if err := storage.WriteFile(ctx, path, []byte(`{"version": 99, "batches": []}`)); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadState(ctx, path); err == nil {
				t.Error("a state file of another version was accepted")
			}
		})
	}
}
