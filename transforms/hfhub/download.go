package hfhub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/winnowlabs/winnow/transforms/progress"
	"golang.org/x/sync/errgroup"
)

// Snapshot is a set of a repository's files at a commit, in the cache.
type Snapshot struct {
	Repo   Repo
	Commit string
	// Dir is the cache's snapshots/COMMIT folder.
	Dir string
	// Files are the files asked for, all present under Dir.
	Files []File
	// Fetched and FetchedBytes count what this call downloaded (0 when
	// everything was cached).
	Fetched      int
	FetchedBytes int64
}

// Path returns the local path of the repository file name.
func (s *Snapshot) Path(name string) string { return filepath.Join(s.Dir, filepath.FromSlash(name)) }

// Download makes sure the named files of info's commit are in the cache,
// downloading the missing ones Workers at a time, and returns the
// snapshot. Each file is fetched as hf_hub_download fetches it: a HEAD of
// its resolve URL for its ETag, size and location (following a repository
// rename, not a CDN redirect), then a GET into blobs/ETAG.incomplete that
// resumes with a Range request after a dropped connection or an
// interrupted run; its size and hash (SHA-256 for LFS files, the git blob
// id otherwise) are checked before it is renamed to blobs/ETAG and linked
// from snapshots/COMMIT/PATH. A file that fails the check is downloaded
// once more, then the call fails. Files already linked are not requested.
// Offline, Download only checks that the files are cached.
func (c *Client) Download(ctx context.Context, info *Info, names []string) (*Snapshot, error) {
	repoDir := info.Repo.Dir(c.CacheDir)
	snap := &Snapshot{Repo: info.Repo, Commit: info.Commit, Dir: filepath.Join(repoDir, "snapshots", info.Commit)}
	var todo []File
	var missing []string
	for _, name := range names {
		f, ok := info.File(name)
		if !ok {
			return nil, c.newError(ErrEntryNotFound, info.Repo, name, 0, "")
		}
		snap.Files = append(snap.Files, f)
		if _, err := os.Stat(snap.Path(name)); err == nil {
			continue
		}
		missing = append(missing, name)
		todo = append(todo, f)
	}
	if c.Offline {
		if len(missing) > 0 {
			return nil, c.newError(ErrNotCached, info.Repo, "", 0, fmt.Sprintf("%s lacks %s", snap.Dir, listSome(missing)))
		}
		return snap, nil
	}
	// The listing and the ref: best effort when everything is cached (the
	// cache may be read-only), as huggingface_hub does.
	errTree, errRef := writeTree(repoDir, info), writeRef(repoDir, info.Repo, info.Commit)
	if len(todo) == 0 {
		return snap, nil
	}
	if err := errors.Join(errTree, errRef); err != nil {
		return nil, err
	}
	start := time.Now()
	prog := newTransfer(info.Repo, todo)
	stop := prog.show(ctx, c)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.workers())
	for _, f := range todo {
		g.Go(func() error { return c.fetch(gctx, info, f, snap, prog) })
	}
	err := g.Wait()
	stop()
	if err != nil {
		return nil, err
	}
	snap.Fetched, snap.FetchedBytes = int(prog.files.Load()), prog.fetched.Load()
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "hub: %s at %.12s: %d of %d files fetched (%s) in %s\n",
			info.Repo, info.Commit, snap.Fetched, len(todo), progress.Bytes(snap.FetchedBytes), time.Since(start).Round(time.Millisecond))
	}
	return snap, nil
}

// listSome names up to five items and counts the rest.
func listSome(names []string) string {
	if len(names) <= 5 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:5], ", "), len(names)-5)
}

// meta is what a HEAD of a file's resolve URL tells.
type meta struct {
	etag     string
	size     int64
	location string
}

// etagName is what an ETag must look like to name a blob file.
var etagName = compileOnFirstUse(`^[A-Za-z0-9._-]{1,128}$`)

// head asks for a file's metadata as get_hf_file_metadata does: a HEAD that
// follows relative redirects (a renamed repository) but not absolute ones
// (the CDN holding an LFS file, whose URL becomes the download location).
func (c *Client) head(ctx context.Context, info *Info, name string) (meta, error) {
	what := fmt.Sprintf("%s: %s", info.Repo, name)
	resp, target, err := c.sendFollowing(ctx, what, http.MethodHead, info.Repo.resolveURL(c.endpoint(), info.Commit, name))
	if err != nil {
		return meta{}, err
	}
	drain(resp)
	m := meta{location: target}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "":
		m.location = resp.Header.Get("Location")
	default:
		return meta{}, c.answerError(resp, info.Repo, name, false)
	}
	m.etag = normalizeETag(firstHeader(resp.Header, "X-Linked-Etag", "ETag"))
	if !etagName().MatchString(m.etag) {
		return meta{}, fmt.Errorf("%s: the Hub sent no usable ETag (%q), so the file cannot be cached", what, m.etag)
	}
	size := resp.Header.Get("X-Linked-Size")
	if size == "" && resp.StatusCode == http.StatusOK {
		size = resp.Header.Get("Content-Length")
	}
	if m.size, err = strconv.ParseInt(size, 10, 64); err != nil || m.size < 0 {
		return meta{}, fmt.Errorf("%s: the Hub sent no file size", what)
	}
	if resp.Header.Get("X-Repo-Commit") == "" {
		return meta{}, fmt.Errorf("%s: the answer has no X-Repo-Commit header: is %s a Hugging Face Hub?", what, c.endpoint())
	}
	return m, nil
}

func firstHeader(h http.Header, keys ...string) string {
	for _, k := range keys {
		if v := h.Get(k); v != "" {
			return v
		}
	}
	return ""
}

// normalizeETag strips the weak marker and quotes of an ETag.
func normalizeETag(s string) string {
	return strings.Trim(strings.TrimPrefix(strings.TrimSpace(s), "W/"), `"`)
}

// fetch downloads one file into the cache and links it into the snapshot.
func (c *Client) fetch(ctx context.Context, info *Info, f File, snap *Snapshot, prog *transfer) error {
	m, err := c.head(ctx, info, f.Path)
	if err != nil {
		return err
	}
	if f.Size > 0 && m.size != f.Size {
		return c.newError(ErrHTTP, info.Repo, f.Path, 0, fmt.Sprintf("the repository lists %d bytes and the download %d", f.Size, m.size))
	}
	prog.resize(f.Size, m.size)
	want := expectedHash(f, m.etag)
	repoDir := info.Repo.Dir(c.CacheDir)
	blob := filepath.Join(repoDir, "blobs", m.etag)
	// Python's lock file, so that two programs sharing the cache do not
	// download the same blob at once.
	lockPath := filepath.Join(c.CacheDir, ".locks", info.Repo.folder(), m.etag+".lock")
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return err
	}
	lock := flock.New(lockPath)
	if _, err := lock.TryLockContext(ctx, 100*time.Millisecond); err != nil {
		return fmt.Errorf("lock %s: %w", lockPath, err)
	}
	defer lock.Unlock()
	if _, err := os.Stat(blob); err != nil {
		if err := c.fetchBlob(ctx, info, f, m, want, blob, prog); err != nil {
			return err
		}
		prog.files.Add(1)
	} else {
		prog.add(m.size)
	}
	return link(blob, snap.Path(f.Path))
}

// hashSpec is the digest a file must have.
type hashSpec struct {
	name string // "SHA-256" or "git blob id"
	sum  string
	new  func(size int64) hash.Hash
}

// expectedHash picks the digest to check: the LFS SHA-256 the repository
// lists (or an ETag that is one), else the git blob id.
func expectedHash(f File, etag string) *hashSpec {
	sha := f.SHA256
	if sha == "" && len(etag) == 64 {
		sha = etag
	}
	if sha != "" {
		return &hashSpec{name: "SHA-256", sum: strings.ToLower(sha), new: func(int64) hash.Hash { return sha256.New() }}
	}
	blob := f.BlobID
	if blob == "" && len(etag) == 40 {
		blob = etag
	}
	if blob != "" {
		return &hashSpec{name: "git blob id", sum: strings.ToLower(blob), new: func(size int64) hash.Hash {
			h := sha1.New()
			fmt.Fprintf(h, "blob %d\x00", size)
			return h
		}}
	}
	return nil
}

// errCheck is a downloaded file of the wrong size or hash.
type errCheck struct{ msg string }

func (e *errCheck) Error() string { return e.msg }

// fetchBlob downloads a blob, checks it and renames it into place: a file
// that fails the check is removed and downloaded once more from scratch.
func (c *Client) fetchBlob(ctx context.Context, info *Info, f File, m meta, want *hashSpec, blob string, prog *transfer) error {
	partial := blob + ".incomplete"
	for attempt := 1; ; attempt++ {
		err := c.download(ctx, info, f.Path, m, partial, prog)
		var bad *errCheck
		if err == nil {
			err = check(partial, m.size, want)
		}
		if err == nil {
			if err := os.Rename(partial, blob); err != nil {
				return fmt.Errorf("%s: %s: %w", info.Repo, f.Path, err)
			}
			return nil
		}
		if !errors.As(err, &bad) {
			// A transport failure keeps the partial file: the next run
			// resumes it.
			return err
		}
		if st, err := os.Stat(partial); err == nil {
			prog.add(-st.Size())
		}
		os.Remove(partial)
		if attempt == 2 {
			return c.newError(ErrVerify, info.Repo, f.Path, 0, bad.msg)
		}
		c.notice("%s: %s: %s; downloading it again", info.Repo, f.Path, bad.msg)
	}
}

// check verifies a downloaded file's size and digest.
func check(p string, size int64, want *hashSpec) error {
	fh, err := os.Open(p)
	if err != nil {
		return err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	if st.Size() != size {
		return &errCheck{fmt.Sprintf("got %d bytes, the Hub lists %d", st.Size(), size)}
	}
	if want == nil {
		return nil
	}
	h := want.new(size)
	if _, err := io.Copy(h, fh); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.sum {
		return &errCheck{fmt.Sprintf("its %s is %s, the Hub lists %s", want.name, got, want.sum)}
	}
	return nil
}

// download fetches m.location into partial, resuming from what partial
// already holds with a Range request, and again after each dropped or
// stalled connection; it gives up after MaxRetries drops in a row without
// progress, keeping the partial file for the next run.
func (c *Client) download(ctx context.Context, info *Info, name string, m meta, partial string, prog *transfer) error {
	what := fmt.Sprintf("%s: %s", info.Repo, name)
	fh, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	offset := min(st.Size(), m.size)
	prog.add(offset)
	for drops := 0; offset < m.size; {
		next, err := c.getFrom(ctx, info, name, m, fh, offset, prog)
		var drop *dropError
		if err != nil && !errors.As(err, &drop) {
			return err
		}
		if next > offset {
			drops = 0
		}
		offset = next
		if err == nil {
			continue
		}
		if drops++; drops > c.maxRetries() {
			return fmt.Errorf("%s: %d failed attempts at byte %d of %d, the last: %w (the partial download %s is resumed by the next run)", what, drops, offset, m.size, drop.err, partial)
		}
		c.notice("%s: connection dropped at byte %d of %d (%v); resuming", what, offset, m.size, drop.err)
		if err := c.wait(ctx, backoff(drops)); err != nil {
			return err
		}
	}
	return fh.Sync()
}

// dropError is a connection that failed or stalled: worth resuming.
type dropError struct{ err error }

func (e *dropError) Error() string { return e.err.Error() }

// getFrom asks for the file's bytes from offset on and writes them to fh
// at their place. It returns the offset reached; a connection that fails
// or stays silent for the stall timeout is a *dropError.
func (c *Client) getFrom(ctx context.Context, info *Info, name string, m meta, fh *os.File, offset int64, prog *transfer) (int64, error) {
	what := fmt.Sprintf("%s: %s", info.Repo, name)
	var header http.Header
	if offset > 0 {
		header = http.Header{"Range": {fmt.Sprintf("bytes=%d-", offset)}}
	}
	reqCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := c.send(reqCtx, what, http.MethodGet, m.location, header)
	if err != nil {
		if ctx.Err() != nil {
			return offset, ctx.Err()
		}
		return offset, &dropError{err}
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if start, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || start != offset {
			return offset, fmt.Errorf("%s: asked for bytes from %d, got Content-Range %q", what, offset, resp.Header.Get("Content-Range"))
		}
	case http.StatusOK:
		// The whole file: the server ignored the Range.
		prog.add(-offset)
		offset = 0
	case http.StatusRequestedRangeNotSatisfiable:
		if offset == 0 {
			return 0, fmt.Errorf("%s: HTTP 416 for the whole file", what)
		}
		// What the partial file holds is not a prefix: start over.
		prog.add(-offset)
		return 0, fh.Truncate(0)
	default:
		return offset, c.answerError(resp, info.Repo, name, false)
	}
	if err := fh.Truncate(offset); err != nil {
		return offset, err
	}
	// A body that stops coming cancels its request.
	watchdog := time.AfterFunc(c.stallTimeout(), cancel)
	defer watchdog.Stop()
	n, err := copyAt(fh, offset, &watched{r: resp.Body, t: watchdog, d: c.stallTimeout()}, prog)
	offset += n
	switch {
	case err == nil && offset < m.size:
		return offset, &dropError{io.ErrUnexpectedEOF}
	case err == nil:
		return offset, nil
	case ctx.Err() != nil:
		return offset, ctx.Err()
	case reqCtx.Err() != nil:
		return offset, &dropError{fmt.Errorf("nothing received for %s", c.stallTimeout())}
	}
	var werr *writeError
	if errors.As(err, &werr) {
		return offset, werr.err
	}
	return offset, &dropError{err}
}

// writeError is a failure to write the partial file (a full disk): not
// worth resuming.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

// copyAt writes r to f from offset on, counting progress.
func copyAt(f *os.File, offset int64, r io.Reader, prog *transfer) (int64, error) {
	buf := make([]byte, 1<<20)
	var n int64
	for {
		k, err := r.Read(buf)
		if k > 0 {
			if _, werr := f.WriteAt(buf[:k], offset+n); werr != nil {
				return n, &writeError{werr}
			}
			n += int64(k)
			prog.received(int64(k))
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// watched pushes a watchdog back at every read that returns data.
type watched struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (w *watched) Read(b []byte) (int, error) {
	n, err := w.r.Read(b)
	if n > 0 {
		w.t.Reset(w.d)
	}
	return n, err
}

// rangeStart reads the first byte of a Content-Range: "bytes 100-199/200".
func rangeStart(cr string) (int64, bool) {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, false
	}
	first, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(first, 10, 64)
	return n, err == nil
}

// link points the snapshot path at the blob with a relative symbolic link,
// as huggingface_hub does, made under a temporary name and renamed into
// place so that the path never shows anything but the complete file. Where
// links are not allowed the blob is copied instead.
func link(blob, dst string) error {
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(dir, blob)
	if err != nil {
		rel = blob
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d.tmp", filepath.Base(dst), time.Now().UnixNano()))
	if err := os.Symlink(rel, tmp); err != nil {
		if err := copyFile(blob, tmp); err != nil {
			return fmt.Errorf("link %s: %w", dst, err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("link %s: %w", dst, err)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	return out.Close()
}
