package annotate

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/transforms/prompts"
)

// TestRealServer runs the pipeline against a real OpenAI-compatible server
// with the fineweb-edu prompt and the json processor: every row gets a
// parseable score, and a second run into a new directory is answered by the
// cache. It runs when WINNOW_TEST_LLM_URL is set (the server's API root, e.g.
// http://127.0.0.1:18434/v1 from ../shared/tools/llm-test-server.sh start);
// WINNOW_TEST_LLM_MODEL names the model (default "tiny"), OPENAI_API_KEY the
// key if the server needs one. See README.md.
func TestRealServer(t *testing.T) {
	url := os.Getenv("WINNOW_TEST_LLM_URL")
	if url == "" {
		t.Skip("set WINNOW_TEST_LLM_URL to an OpenAI-compatible server to run (see pipelines/annotate/README.md)")
	}
	model := os.Getenv("WINNOW_TEST_LLM_MODEL")
	if model == "" {
		model = "tiny"
	}
	rows := sampleRows(t)[:8]
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	writeShards(t, in, rawLines(rows), 4)
	temp := 0.0
	o := Options{
		Common:         mapstep.Common{Inputs: []string{in}, Output: filepath.Join(dir, "out"), Quiet: true},
		Prompt:         mustPrompt("fineweb-edu"),
		Processor:      prompts.ProcessorJSON,
		Model:          model,
		BaseURL:        url,
		CacheDir:       filepath.Join(dir, "cache"),
		Temperature:    &temp,
		MaxNewTokens:   1024,
		MaxTextLength:  1000,
		MaxConcurrency: 2,
		RequestTimeout: 5 * time.Minute,
		MaxAttempts:    3,
	}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	errs := readErrors(t, o.Output)
	for id, e := range errs {
		t.Errorf("row %s failed: %s (raw %.300q)", id, e.Reason, e.RawAnswer)
	}
	got, _ := readOutput(t, o.Output)
	if len(got) != len(rows) {
		t.Fatalf("%d rows annotated of %d", len(got), len(rows))
	}
	for _, r := range got {
		score, ok := r.Ann["score"].(float64)
		if !ok || score != float64(int(score)) || score < 0 || score > 5 || r.Ann["model"] == "" {
			t.Errorf("row %s: annotation %v", r.ID, r.Ann)
		}
	}
	if l := res.Summary.Ledger; l.Annotated != int64(len(rows)) || l.PromptTokens == 0 || l.CompletionTokens == 0 {
		t.Errorf("ledger %+v", l)
	}
	t.Logf("%d rows, counters %s", len(got), res.Counters)

	o.Output = filepath.Join(dir, "out2")
	res, err = Run(context.Background(), o)
	if err != nil || res.Counters["requests"] != 0 || res.Counters["cache_hits"] != int64(len(rows)) {
		t.Errorf("second run: %v, counters %v", err, res.Counters)
	}
}
