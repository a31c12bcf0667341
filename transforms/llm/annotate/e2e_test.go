package annotate

import (
	"os"
	"testing"
	"time"

	"github.com/winnowlabs/winnow/transforms/llm"
	"github.com/winnowlabs/winnow/transforms/prompts"
)

// TestRealServer annotates real rows against a real OpenAI-compatible server
// with the fineweb-edu prompt and the json processor. It runs when
// WINNOW_TEST_LLM_URL is set (the server's API root, e.g.
// http://127.0.0.1:18434/v1 from ../shared/tools/llm-test-server.sh start);
// WINNOW_TEST_LLM_MODEL names the model (default "tiny"), OPENAI_API_KEY the
// key if the server needs one.
func TestRealServer(t *testing.T) {
	url := os.Getenv("WINNOW_TEST_LLM_URL")
	if url == "" {
		t.Skip("set WINNOW_TEST_LLM_URL to an OpenAI-compatible server to run (see transforms/llm/README.md)")
	}
	model := os.Getenv("WINNOW_TEST_LLM_MODEL")
	if model == "" {
		model = "tiny"
	}
	c, err := llm.New(llm.Config{
		BaseURL:        url,
		APIKey:         llm.APIKeyFromEnv(""),
		MaxConcurrency: 2,
		RequestTimeout: 5 * time.Minute,
		MaxAttempts:    3,
	})
	if err != nil {
		t.Fatal(err)
	}
	temp := 0.0
	store := openCache(t, t.TempDir())
	opts := Options{
		Prompt:        mustPrompt(t, "fineweb-edu"),
		Processor:     prompts.ProcessorJSON,
		Model:         model,
		Temperature:   &temp,
		MaxTokens:     1024,
		MaxTextLength: 1000,
		Cache:         store,
	}
	rows := sampleRows(t)[:6]
	res, st, err := run(t, newAnnotator(t, c, opts), rows)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		score, ok := r.Value["score"].(int64)
		if r.Status != Annotated || !ok || score < 0 || score > 5 {
			t.Errorf("row %s: %s, value %v, reason %q, raw %.300q", r.Key, r.Status, r.Value, r.Reason, r.Raw)
		}
		if r.Usage.PromptTokens == 0 || r.Usage.CompletionTokens == 0 || r.Model == "" {
			t.Errorf("row %s: usage %+v, model %q", r.Key, r.Usage, r.Model)
		}
	}
	t.Logf("%d rows: %+v", len(res), st)
	// The second run is answered by the cache.
	_, st, err = run(t, newAnnotator(t, c, opts), rows)
	if err != nil || st.Requests != 0 || st.CacheHits != int64(len(rows)) {
		t.Errorf("second run: %v, %+v", err, st)
	}
}
