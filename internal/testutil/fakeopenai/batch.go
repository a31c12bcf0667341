package fakeopenai

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

type file struct {
	ID       string
	Purpose  string
	Filename string
	Data     []byte
	Created  int64
}

func (f *file) object() map[string]any {
	return map[string]any{
		"id": f.ID, "object": "file", "bytes": len(f.Data), "created_at": f.Created,
		"filename": f.Filename, "purpose": f.Purpose, "status": "processed",
	}
}

type batchJob struct {
	ID           string
	InputFileID  string
	Endpoint     string
	Window       string
	Metadata     map[string]string
	Status       string
	OutputFileID string
	ErrorFileID  string
	Created      int64
	Total        int
	Completed    int
	Failed       int
}

func (b *batchJob) object() map[string]any {
	o := map[string]any{
		"id": b.ID, "object": "batch", "endpoint": b.Endpoint, "errors": nil,
		"input_file_id": b.InputFileID, "completion_window": b.Window, "status": b.Status,
		"created_at": b.Created, "metadata": b.Metadata,
		"request_counts": map[string]any{"total": b.Total, "completed": b.Completed, "failed": b.Failed},
	}
	if b.OutputFileID != "" {
		o["output_file_id"] = b.OutputFileID
	}
	if b.ErrorFileID != "" {
		o["error_file_id"] = b.ErrorFileID
	}
	return o
}

func (s *Server) newID(prefix string) string {
	s.nextID++
	return fmt.Sprintf("%s-%06d", prefix, s.nextID)
}

func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(64 << 20); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "multipart: "+err.Error())
		return
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "no file: "+err.Error())
		return
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	s.mu.Lock()
	fl := &file{ID: s.newID("file"), Purpose: r.FormValue("purpose"), Filename: hdr.Filename, Data: data, Created: time.Now().Unix()}
	s.files[fl.ID] = fl
	s.mu.Unlock()
	writeJSON(w, fl.object())
}

func (s *Server) lookupFile(w http.ResponseWriter, r *http.Request) *file {
	s.mu.Lock()
	f := s.files[r.PathValue("id")]
	s.mu.Unlock()
	if f == nil {
		writeError(w, http.StatusNotFound, "not_found", "No such file: "+r.PathValue("id"))
	}
	return f
}

func (s *Server) getFile(w http.ResponseWriter, r *http.Request) {
	if f := s.lookupFile(w, r); f != nil {
		writeJSON(w, f.object())
	}
}

func (s *Server) fileContent(w http.ResponseWriter, r *http.Request) {
	if f := s.lookupFile(w, r); f != nil {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(f.Data)
	}
}

func (s *Server) createBatch(w http.ResponseWriter, r *http.Request) {
	var req struct {
		InputFileID      string            `json:"input_file_id"`
		Endpoint         string            `json:"endpoint"`
		CompletionWindow string            `json:"completion_window"`
		Metadata         map[string]string `json:"metadata"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	s.mu.Lock()
	in := s.files[req.InputFileID]
	if in == nil || in.Purpose != "batch" {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "invalid_request_error", "input_file_id is not a batch file")
		return
	}
	if req.Endpoint != "/v1/chat/completions" {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "invalid_request_error", "unsupported endpoint "+req.Endpoint)
		return
	}
	b := &batchJob{
		ID: s.newID("batch"), InputFileID: in.ID, Endpoint: req.Endpoint, Window: req.CompletionWindow,
		Metadata: req.Metadata, Status: "validating", Created: time.Now().Unix(),
	}
	s.batches[b.ID] = b
	s.order = append(s.order, b.ID)
	obj := b.object()
	data := in.Data
	s.mu.Unlock()
	go s.runBatch(b, data)
	writeJSON(w, obj)
}

// ReleaseBatches lets batches held by Config.HoldBatches complete.
func (s *Server) ReleaseBatches() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.release:
	default:
		close(s.release)
	}
}

// BatchesCreated returns the number of batches created.
func (s *Server) BatchesCreated() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.order)
}

// FilesUploaded returns the contents of uploaded files of a purpose, in
// upload order.
func (s *Server) FilesUploaded(purpose string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for i := 1; i <= s.nextID; i++ {
		if f := s.files[fmt.Sprintf("file-%06d", i)]; f != nil && f.Purpose == purpose {
			out = append(out, f.Data)
		}
	}
	return out
}

// runBatch answers every line of a batch input file like the chat endpoint
// (same answers and fault schedule; Hang lines expire), then completes it.
func (s *Server) runBatch(b *batchJob, input []byte) {
	s.setBatch(b, func(b *batchJob) { b.Status = "in_progress" })
	time.Sleep(s.cfg.BatchLatency)
	if s.cfg.HoldBatches {
		<-s.release
	}
	var out, errs bytes.Buffer
	total, completed, failed := 0, 0, 0
	sc := bufio.NewScanner(bytes.NewReader(input))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		total++
		var line struct {
			CustomID string          `json:"custom_id"`
			Method   string          `json:"method"`
			URL      string          `json:"url"`
			Body     json.RawMessage `json:"body"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			s.setBatch(b, func(b *batchJob) { b.Status = "failed" })
			return
		}
		var req ChatRequest
		_ = json.Unmarshal(line.Body, &req)
		sum := sha256.Sum256(line.Body)
		ev := &Event{Key: hex.EncodeToString(sum[:]), Prompt: req.Prompt(), Batch: true}
		s.mu.Lock()
		s.attempts[ev.Key]++
		ev.Attempt = s.attempts[ev.Key]
		ev.Seq = len(s.events) + 1
		s.events = append(s.events, ev)
		s.mu.Unlock()
		var fault Fault
		if s.cfg.Fault != nil {
			fault = s.cfg.Fault(&req, ev.Attempt)
		}
		s.setEvent(ev, func(e *Event) { e.Fault = fault.Kind })
		reqID := "req-" + strconv.Itoa(ev.Seq)
		status := http.StatusOK
		switch fault.Kind {
		case Hang:
			failed++
			writeLine(&errs, map[string]any{"id": "batch_req_" + strconv.Itoa(ev.Seq), "custom_id": line.CustomID, "response": nil,
				"error": map[string]any{"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}})
			continue
		case RateLimit, InsufficientQuota:
			status = http.StatusTooManyRequests
		case ServerError:
			status = http.StatusInternalServerError
		case BadRequest:
			status = http.StatusBadRequest
		}
		if status != http.StatusOK {
			failed++
			s.setEvent(ev, func(e *Event) { e.Status = status })
			writeLine(&errs, map[string]any{"id": "batch_req_" + strconv.Itoa(ev.Seq), "custom_id": line.CustomID, "error": nil,
				"response": map[string]any{"status_code": status, "request_id": reqID, "body": map[string]any{
					"error": map[string]any{"message": fault.Kind.String() + " injected by the test server", "type": "server_error"}}}})
			continue
		}
		answer := UnparseableAnswer
		if fault.Kind != Unparseable {
			answer = s.cfg.Answer(&req)
		}
		completed++
		writeLine(&out, map[string]any{"id": "batch_req_" + strconv.Itoa(ev.Seq), "custom_id": line.CustomID, "error": nil,
			"response": map[string]any{"status_code": 200, "request_id": reqID, "body": s.completion(&req, answer, ev.Seq)}})
		s.mu.Lock()
		ev.Status, ev.Completed = http.StatusOK, true
		s.completed++
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if out.Len() > 0 {
		f := &file{ID: s.newID("file"), Purpose: "batch_output", Filename: b.ID + "_output.jsonl", Data: out.Bytes(), Created: time.Now().Unix()}
		s.files[f.ID] = f
		b.OutputFileID = f.ID
	}
	if errs.Len() > 0 {
		f := &file{ID: s.newID("file"), Purpose: "batch_output", Filename: b.ID + "_error.jsonl", Data: errs.Bytes(), Created: time.Now().Unix()}
		s.files[f.ID] = f
		b.ErrorFileID = f.ID
	}
	b.Total, b.Completed, b.Failed = total, completed, failed
	b.Status = "completed"
}

func (s *Server) setBatch(b *batchJob, f func(*batchJob)) {
	s.mu.Lock()
	f(b)
	s.mu.Unlock()
}

func (s *Server) getBatch(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b := s.batches[r.PathValue("id")]
	var obj map[string]any
	if b != nil {
		obj = b.object()
	}
	s.mu.Unlock()
	if b == nil {
		writeError(w, http.StatusNotFound, "not_found", "No such batch: "+r.PathValue("id"))
		return
	}
	writeJSON(w, obj)
}

// listBatches lists batches newest first, with cursor pagination ("after",
// "limit") like OpenAI's.
func (s *Server) listBatches(w http.ResponseWriter, r *http.Request) {
	limit := 20
	if v, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && v > 0 {
		limit = v
	}
	after := r.URL.Query().Get("after")
	s.mu.Lock()
	var data []any
	started := after == ""
	hasMore := false
	for i := len(s.order) - 1; i >= 0; i-- {
		id := s.order[i]
		if !started {
			started = id == after
			continue
		}
		if len(data) == limit {
			hasMore = true
			break
		}
		data = append(data, s.batches[id].object())
	}
	s.mu.Unlock()
	page := map[string]any{"object": "list", "data": data, "has_more": hasMore}
	if len(data) > 0 {
		page["first_id"] = data[0].(map[string]any)["id"]
		page["last_id"] = data[len(data)-1].(map[string]any)["id"]
	}
	if data == nil {
		page["data"] = []any{}
	}
	writeJSON(w, page)
}

func writeLine(buf *bytes.Buffer, v any) {
	b, _ := json.Marshal(v)
	buf.Write(b)
	buf.WriteByte('\n')
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func readBody(r *http.Request) ([]byte, error) {
	defer r.Body.Close()
	return io.ReadAll(r.Body)
}
