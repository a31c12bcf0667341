package fakeopenai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/transforms/prompts"
)

// The default answer follows each library prompt's schema, so the json
// processor accepts it.
func TestSchemaAnswerFollowsLibrarySchemas(t *testing.T) {
	for _, p := range prompts.List() {
		if p.Schema == nil {
			continue
		}
		proc, err := prompts.NewProcessor(prompts.ProcessorJSON, p)
		if err != nil {
			t.Fatal(err)
		}
		for score := range 6 {
			answer := SchemaAnswer(p.Schema, score)
			v, err := proc.Process(answer)
			if err != nil {
				t.Errorf("%s, score %d: %v\n%s", p.Name, score, err, answer)
				continue
			}
			if s, ok := v["score"]; ok && s != int64(score) {
				t.Errorf("%s: score %v, want %d", p.Name, s, score)
			}
		}
	}
}

func post(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestChatAndFaultSchedule(t *testing.T) {
	srv := New(Config{Fault: func(r *ChatRequest, attempt int) Fault {
		if attempt == 1 {
			return Fault{Kind: RateLimit, RetryAfter: "2"}
		}
		return Fault{}
	}})
	defer srv.Close()
	body := `{"model": "m", "messages": [{"role": "user", "content": "hello"}]}`
	resp, _ := post(t, srv.URL+"/chat/completions", body)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("first attempt: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	resp, out := post(t, srv.URL+"/chat/completions", body)
	var c struct {
		Model   string
		Choices []struct{ Message struct{ Content string } }
		Usage   struct{ PromptTokens, CompletionTokens int } `json:"usage"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil || resp.StatusCode != 200 {
		t.Fatalf("second attempt: %d %s", resp.StatusCode, out)
	}
	if !strings.HasSuffix(c.Choices[0].Message.Content, fmt.Sprintf("Final score: %d", Score("hello"))) || c.Model != "m" {
		t.Errorf("answer %+v", c)
	}
	ev := srv.Events()
	if len(ev) != 2 || ev[0].Attempt != 1 || ev[1].Attempt != 2 || ev[0].Key != ev[1].Key || ev[0].Completed || !ev[1].Completed {
		t.Errorf("events %+v", ev)
	}
	if err := srv.WaitCompleted(context.Background(), 1); err != nil {
		t.Error(err)
	}
}

func TestBatchListPagination(t *testing.T) {
	srv := New(Config{})
	defer srv.Close()
	var buf bytes.Buffer
	buf.WriteString("--b\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n")
	buf.WriteString("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n\r\n")
	buf.WriteString(`{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m", "messages": [{"role": "user", "content": "x"}]}}` + "\n")
	buf.WriteString("\r\n--b--\r\n")
	resp, err := http.Post(srv.URL+"/files", "multipart/form-data; boundary=b", &buf)
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&f)
	resp.Body.Close()
	var ids []string
	for range 3 {
		_, out := post(t, srv.URL+"/batches", `{"input_file_id": "`+f.ID+`", "endpoint": "/v1/chat/completions", "completion_window": "24h"}`)
		var b struct{ ID string }
		json.Unmarshal([]byte(out), &b)
		ids = append(ids, b.ID)
	}
	var listed []string
	after := ""
	for page := 0; page < 5; page++ {
		resp, err := http.Get(srv.URL + "/batches?limit=2&after=" + after)
		if err != nil {
			t.Fatal(err)
		}
		var l struct {
			Data    []struct{ ID string }
			HasMore bool   `json:"has_more"`
			LastID  string `json:"last_id"`
		}
		json.NewDecoder(resp.Body).Decode(&l)
		resp.Body.Close()
		for _, d := range l.Data {
			listed = append(listed, d.ID)
		}
		if !l.HasMore {
			break
		}
		after = l.LastID
	}
	if strings.Join(listed, ",") != strings.Join([]string{ids[2], ids[1], ids[0]}, ",") {
		t.Errorf("listed %v, want %v newest first", listed, ids)
	}
}
