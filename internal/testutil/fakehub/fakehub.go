// Package fakehub is an in-process Hugging Face Hub for tests: it serves
// repositories with the real Hub's response shapes and headers — the
// repository API with siblings and LFS metadata, resolve URLs answering
// with ETag / X-Repo-Commit for git files and a 302 to a CDN path with
// X-Linked-Etag / X-Linked-Size for LFS files, Range requests, X-Error-Code
// errors (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo) — and
// injects the faults a client must survive: 429 with Retry-After, a
// connection dropped in the middle of a file, corrupted content.
package fakehub

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Token is the token the fake Hub accepts for gated and private
// repositories.
const Token = "hf_fakehubTOKENvalue0123456789"

// Server is a fake Hub.
type Server struct {
	*httptest.Server
	mu      sync.Mutex
	repos   map[string]*repo // by "models/ID" or "datasets/ID"
	renamed map[string]string
	blobs   map[string][]byte // LFS content by SHA-256
	faults  []*fault
	stats   Stats
}

// Stats counts the requests served.
type Stats struct {
	Info, Head, Get, CDN int
	// Bytes is the body bytes sent by file GETs (resolve and CDN).
	Bytes int64
	// Gets counts file GETs by repository path.
	Gets map[string]int
	// CDNAuth counts CDN requests that carried an Authorization header.
	CDNAuth int
}

type repo struct {
	typ, id string
	gated   bool
	main    string
	branch  map[string]string
	commits map[string]map[string]*file
}

type file struct {
	path    string
	content []byte
	blobID  string // git blob id (of the pointer, for LFS files)
	sha256  string // LFS files only
	pointer int
}

// lfsExts are stored in LFS, as the Hub's default .gitattributes does.
var lfsExts = []string{".parquet", ".safetensors", ".bin", ".ftz", ".zst", ".gz", ".arrow", ".model"}

// New starts a fake Hub, closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{repos: map[string]*repo{}, renamed: map[string]string{}, blobs: map[string][]byte{}}
	s.stats.Gets = map[string]int{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Add creates or updates a repository of type "models" or "datasets": a new
// commit on main holding files (repository path → content). It returns the
// commit hash.
func (s *Server) Add(typ, id string, files map[string][]byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[typ+"/"+id]
	if r == nil {
		r = &repo{typ: typ, id: id, branch: map[string]string{}, commits: map[string]map[string]*file{}}
		s.repos[typ+"/"+id] = r
	}
	tree := map[string]*file{}
	h := sha1.New()
	fmt.Fprintf(h, "%s %s parent %s\n", typ, id, r.main)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := &file{path: n, content: files[n]}
		if isLFS(n) {
			sum := sha256.Sum256(f.content)
			f.sha256 = hex.EncodeToString(sum[:])
			ptr := fmt.Sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", f.sha256, len(f.content))
			f.pointer = len(ptr)
			f.blobID = gitBlobID([]byte(ptr))
			s.blobs[f.sha256] = f.content
		} else {
			f.blobID = gitBlobID(f.content)
		}
		tree[n] = f
		fmt.Fprintf(h, "%s %s\n", f.blobID, n)
	}
	commit := hex.EncodeToString(h.Sum(nil))
	r.commits[commit] = tree
	r.main = commit
	r.branch["main"] = commit
	return commit
}

// AddDir adds a repository holding the files below dir, each under prefix
// (e.g. "data/").
func (s *Server) AddDir(t testing.TB, typ, id, dir, prefix string) string {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[prefix+filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s.Add(typ, id, files)
}

// Tag points a branch or tag name at a commit of a repository.
func (s *Server) Tag(typ, id, name, commit string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[typ+"/"+id].branch[name] = commit
}

// Gate makes a repository gated: its files need the Token.
func (s *Server) Gate(typ, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[typ+"/"+id].gated = true
}

// Rename serves a repository under a new id; the old one answers with a
// relative redirect, as the Hub does after a rename.
func (s *Server) Rename(typ, oldID, newID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[typ+"/"+oldID]
	delete(s.repos, typ+"/"+oldID)
	r.id = newID
	s.repos[typ+"/"+newID] = r
	s.renamed[typ+"/"+oldID] = newID
}

// A fault is applied to the next requests for a file's content.
type fault struct {
	path       string
	times      int
	status     int           // answer this status (429) ...
	retryAfter string        // ... with this Retry-After
	dropAfter  int           // or cut the connection after this many bytes
	stall      time.Duration // (having first sent nothing more for this long)
	corrupt    bool          // or flip a byte of the content
}

// RateLimit answers the next n requests for the file (HEAD or GET) with
// 429 Too Many Requests and the Retry-After value.
func (s *Server) RateLimit(path string, n int, retryAfter string) {
	s.addFault(&fault{path: path, times: n, status: http.StatusTooManyRequests, retryAfter: retryAfter})
}

// Drop cuts the connection of the next n downloads of the file after
// `after` bytes of the body (counted from the start of the range asked).
func (s *Server) Drop(path string, n, after int) {
	s.addFault(&fault{path: path, times: n, dropAfter: after})
}

// Stall sends `after` bytes of the next n downloads of the file, then
// nothing more for d (or until the client gives up), then cuts the
// connection.
func (s *Server) Stall(path string, n, after int, d time.Duration) {
	s.addFault(&fault{path: path, times: n, dropAfter: after, stall: d})
}

// Corrupt serves the next n downloads of the file with one byte flipped.
func (s *Server) Corrupt(path string, n int) {
	s.addFault(&fault{path: path, times: n, corrupt: true})
}

func (s *Server) addFault(f *fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// takeFault returns the first pending fault of path matching ok, using it
// up once.
func (s *Server) takeFault(path string, ok func(*fault) bool) *fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.path == path && f.times > 0 && ok(f) {
			f.times--
			return f
		}
	}
	return nil
}

// CDN is the base URL LFS files redirect to: this server under another
// host name (localhost for 127.0.0.1), so that a client that sends its
// token only to the Hub's host sends none there.
func (s *Server) CDN() string { return strings.Replace(s.URL, "127.0.0.1", "localhost", 1) }

// Stats returns the requests served so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Gets = map[string]int{}
	for k, v := range s.stats.Gets {
		st.Gets[k] = v
	}
	return st
}

// ResetStats zeroes the counters.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = Stats{Gets: map[string]int{}}
}

func isLFS(name string) bool {
	for _, e := range lfsExts {
		if strings.HasSuffix(name, e) {
			return true
		}
	}
	return false
}

func gitBlobID(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	for i, seg := range segs {
		if u, err := url.PathUnescape(seg); err == nil {
			segs[i] = u
		}
	}
	switch {
	case len(segs) >= 4 && segs[0] == "api" && (segs[1] == "models" || segs[1] == "datasets"):
		s.serveInfo(w, r, segs[1], segs[2:])
	case len(segs) == 2 && segs[0] == "cdn":
		s.serveCDN(w, r, segs[1])
	case len(segs) >= 4 && segs[0] == "datasets":
		s.serveResolve(w, r, "datasets", segs[1:])
	default:
		s.serveResolve(w, r, "models", segs)
	}
}

// access finds a repository, answering as the Hub does for an unknown one
// (which may be a private one): 401 without a token, 404 with one.
func (s *Server) access(w http.ResponseWriter, r *http.Request, typ, id string) *repo {
	s.mu.Lock()
	rp := s.repos[typ+"/"+id]
	s.mu.Unlock()
	if rp == nil {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.Header().Set("X-Error-Message", "Repository not found")
		status := http.StatusUnauthorized
		if r.Header.Get("Authorization") != "" {
			status = http.StatusNotFound
		}
		writeJSON(w, status, map[string]string{"error": "Repository not found"})
		return nil
	}
	return rp
}

func (s *Server) commitOf(w http.ResponseWriter, rp *repo, rev string) (string, map[string]*file) {
	s.mu.Lock()
	defer s.mu.Unlock()
	commit := rev
	if c, ok := rp.branch[rev]; ok {
		commit = c
	}
	tree, ok := rp.commits[commit]
	if !ok {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		w.Header().Set("X-Error-Message", "Invalid rev id: "+rev)
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Invalid rev id: " + rev})
		return "", nil
	}
	return commit, tree
}

// serveInfo answers /api/TYPE/OWNER/NAME[/revision/REV].
func (s *Server) serveInfo(w http.ResponseWriter, r *http.Request, typ string, segs []string) {
	s.count(func(st *Stats) { st.Info++ })
	id := segs[0] + "/" + segs[1]
	rev := "main"
	if len(segs) >= 4 && segs[2] == "revision" {
		rev = strings.Join(segs[3:], "/")
	}
	if s.redirectRenamed(w, r, typ, id, segs[0]+"/"+segs[1]) {
		return
	}
	rp := s.access(w, r, typ, id)
	if rp == nil {
		return
	}
	commit, tree := s.commitOf(w, rp, rev)
	if tree == nil {
		return
	}
	blobs := r.URL.Query().Get("blobs") == "true"
	var siblings []map[string]any
	for _, n := range sortedNames(tree) {
		f := tree[n]
		sib := map[string]any{"rfilename": n}
		if blobs {
			sib["size"] = len(f.content)
			sib["blobId"] = f.blobID
			if f.sha256 != "" {
				sib["lfs"] = map[string]any{"size": len(f.content), "sha256": f.sha256, "pointerSize": f.pointer}
			}
		}
		siblings = append(siblings, sib)
	}
	var gated any = false
	if rp.gated {
		gated = "manual"
	}
	info := map[string]any{
		"_id": fmt.Sprintf("%x", sha1.Sum([]byte(id)))[:24], "id": id, "author": segs[0], "sha": commit,
		"lastModified": time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), "private": false, "gated": gated,
		"disabled": false, "tags": []string{}, "siblings": siblings,
	}
	if typ == "models" {
		info["modelId"] = id
	}
	writeJSON(w, http.StatusOK, info)
}

// serveResolve answers [datasets/]OWNER/NAME/resolve/REV/PATH.
func (s *Server) serveResolve(w http.ResponseWriter, r *http.Request, typ string, segs []string) {
	if len(segs) < 5 || segs[2] != "resolve" {
		http.NotFound(w, r)
		return
	}
	id := segs[0] + "/" + segs[1]
	rev, name := segs[3], strings.Join(segs[4:], "/")
	if s.redirectRenamed(w, r, typ, id, id) {
		return
	}
	if r.Method == http.MethodHead {
		s.count(func(st *Stats) { st.Head++ })
	} else {
		s.count(func(st *Stats) { st.Get++ })
	}
	if f := s.takeFault(name, func(f *fault) bool { return f.status != 0 }); f != nil {
		w.Header().Set("Retry-After", f.retryAfter)
		writeJSON(w, f.status, map[string]string{"error": "rate limited"})
		return
	}
	rp := s.access(w, r, typ, id)
	if rp == nil {
		return
	}
	if rp.gated {
		auth := r.Header.Get("Authorization")
		if auth != "Bearer "+Token {
			kind, status := "must have access to it and be authenticated to access it. Please log in.", http.StatusUnauthorized
			if auth != "" {
				kind, status = "are not in the authorized list. Visit "+s.URL+"/"+id+" to ask for access.", http.StatusForbidden
			}
			w.Header().Set("X-Error-Code", "GatedRepo")
			w.Header().Set("X-Error-Message", "Access to "+strings.TrimSuffix(typ, "s")+" "+id+" is restricted. You "+kind)
			writeJSON(w, status, map[string]string{"error": "Access restricted"})
			return
		}
	}
	commit, tree := s.commitOf(w, rp, rev)
	if tree == nil {
		return
	}
	w.Header().Set("X-Repo-Commit", commit)
	f := tree[name]
	if f == nil {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		w.Header().Set("X-Error-Message", "Entry not found")
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Entry not found"})
		return
	}
	if f.sha256 != "" {
		w.Header().Set("ETag", `"`+f.sha256+`"`)
		w.Header().Set("X-Linked-Etag", `"`+f.sha256+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(f.content)))
		w.Header().Set("Location", s.CDN()+"/cdn/"+f.sha256+"?X-Amz-Signature=fake&name="+url.QueryEscape(name))
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+f.blobID+`"`)
	s.serveContent(w, r, name, f.content)
}

// redirectRenamed answers a request naming a renamed repository with a
// relative redirect to the same path under the new name.
func (s *Server) redirectRenamed(w http.ResponseWriter, r *http.Request, typ, id, inPath string) bool {
	s.mu.Lock()
	newID, moved := s.renamed[typ+"/"+id]
	s.mu.Unlock()
	if !moved {
		return false
	}
	loc := strings.Replace(r.URL.EscapedPath(), "/"+inPath+"/", "/"+newID+"/", 1)
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusTemporaryRedirect)
	return true
}

// serveCDN answers /cdn/SHA256, where LFS resolve URLs redirect.
func (s *Server) serveCDN(w http.ResponseWriter, r *http.Request, sum string) {
	s.mu.Lock()
	content, ok := s.blobs[sum]
	s.stats.CDN++
	if r.Header.Get("Authorization") != "" {
		s.stats.CDNAuth++
	}
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	name := r.URL.Query().Get("name")
	if f := s.takeFault(name, func(f *fault) bool { return f.status != 0 }); f != nil {
		w.Header().Set("Retry-After", f.retryAfter)
		w.WriteHeader(f.status)
		return
	}
	w.Header().Set("ETag", `"`+sum+`"`)
	s.serveContent(w, r, name, content)
}

// serveContent serves a file's bytes with Range support, applying a drop
// or corruption fault to GETs.
func (s *Server) serveContent(w http.ResponseWriter, r *http.Request, name string, content []byte) {
	w.Header().Set("Accept-Ranges", "bytes")
	w.Header().Set("Content-Type", "application/octet-stream")
	if r.Method == http.MethodGet {
		s.count(func(st *Stats) { st.Gets[name]++ })
		w = &countWriter{ResponseWriter: w, s: s}
		if f := s.takeFault(name, func(f *fault) bool { return f.status == 0 }); f != nil {
			if f.corrupt {
				content = bytes.Clone(content)
				content[len(content)/2] ^= 0xff
			} else {
				w = &dropWriter{ResponseWriter: w, left: f.dropAfter, stall: f.stall, done: r.Context().Done()}
			}
		}
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(content))
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
}

// countWriter counts the body bytes sent.
type countWriter struct {
	http.ResponseWriter
	s *Server
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.s.count(func(st *Stats) { st.Bytes += int64(n) })
	return n, err
}

func (c *countWriter) Flush() { c.ResponseWriter.(http.Flusher).Flush() }

// dropWriter writes `left` bytes of the body, waits `stall`, then cuts
// the connection: the client sees a body shorter than its Content-Length.
type dropWriter struct {
	http.ResponseWriter
	left  int
	stall time.Duration
	done  <-chan struct{}
}

func (d *dropWriter) Write(b []byte) (int, error) {
	if len(b) > d.left {
		_, _ = d.ResponseWriter.Write(b[:d.left])
		d.ResponseWriter.(http.Flusher).Flush()
		select {
		case <-time.After(d.stall):
		case <-d.done:
		}
		// net/http closes the connection without logging.
		panic(http.ErrAbortHandler)
	}
	d.left -= len(b)
	return d.ResponseWriter.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func sortedNames(tree map[string]*file) []string {
	names := make([]string, 0, len(tree))
	for n := range tree {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
