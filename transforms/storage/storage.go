// Package storage gives winnow one way to reach files on every filesystem
// Beam knows: local paths, gs://, s3:// and memfs://. It wraps Beam's
// filesystem registry with the operations shard I/O needs (recursive listing,
// atomic commit by rename, existence checks) and keeps one client per scheme
// for the life of the process.
//
// Capabilities differ by filesystem: local, memfs and gcs implement Rename
// (gcs as copy+delete); s3 implements Copy and Remove, so Rename falls back to
// them. Object stores have no directories: Exists reports objects only.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	// The filesystems every path may use.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/memfs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/s3"
)

// Scheme returns the scheme of p ("gs", "s3", "memfs"), or "" for a local path.
func Scheme(p string) string {
	if i := strings.Index(p, "://"); i > 0 {
		return p[:i]
	}
	return ""
}

// IsLocal reports whether p is a local path.
func IsLocal(p string) bool { return Scheme(p) == "" }

// Join joins path elements; URLs keep their scheme and use forward slashes.
func Join(base string, elem ...string) string {
	if IsLocal(base) {
		return filepath.Join(append([]string{base}, elem...)...)
	}
	scheme, rest := splitScheme(base)
	return scheme + "://" + path.Join(append([]string{rest}, elem...)...)
}

// Dir returns all but the last element of p.
func Dir(p string) string {
	if IsLocal(p) {
		return filepath.Dir(p)
	}
	scheme, rest := splitScheme(p)
	return scheme + "://" + path.Dir(rest)
}

// Base returns the last element of p.
func Base(p string) string {
	if IsLocal(p) {
		return filepath.Base(p)
	}
	_, rest := splitScheme(p)
	return path.Base(rest)
}

// Rel returns p relative to base, with forward slashes.
func Rel(base, p string) (string, error) {
	if IsLocal(base) != IsLocal(p) {
		return "", fmt.Errorf("%s is not inside %s", p, base)
	}
	if IsLocal(base) {
		r, err := filepath.Rel(base, p)
		if err != nil || r == ".." || strings.HasPrefix(r, "../") {
			return "", fmt.Errorf("%s is not inside %s", p, base)
		}
		return filepath.ToSlash(r), nil
	}
	b := strings.TrimSuffix(base, "/") + "/"
	if !strings.HasPrefix(p, b) {
		return "", fmt.Errorf("%s is not inside %s", p, base)
	}
	return strings.TrimPrefix(p, b), nil
}

// Clean normalises p (a trailing slash is dropped; URLs keep their scheme).
func Clean(p string) string {
	if IsLocal(p) {
		return filepath.Clean(p)
	}
	scheme, rest := splitScheme(p)
	return scheme + "://" + strings.TrimSuffix(path.Clean(rest), "/")
}

func splitScheme(p string) (string, string) {
	i := strings.Index(p, "://")
	return p[:i], p[i+3:]
}

var (
	mu      sync.Mutex
	clients = map[string]filesystem.Interface{}
)

// fsFor returns the process-wide filesystem client for p's scheme. Clients are
// keyed by the emulator endpoints too, so tests that start fake servers get a
// client that talks to them.
func fsFor(ctx context.Context, p string) (filesystem.Interface, error) {
	key := Scheme(p) + "|" + os.Getenv("STORAGE_EMULATOR_HOST") + "|" + os.Getenv("AWS_ENDPOINT_URL") + "|" + os.Getenv("AWS_ENDPOINT_URL_S3")
	mu.Lock()
	defer mu.Unlock()
	if c, ok := clients[key]; ok {
		return c, nil
	}
	c, err := newFS(ctx, p)
	if err != nil {
		return nil, err
	}
	clients[key] = c
	return c, nil
}

func newFS(ctx context.Context, p string) (fs filesystem.Interface, err error) {
	// Beam's constructors panic on configuration errors (e.g. no AWS config).
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("open filesystem for %s: %v", p, r)
		}
	}()
	fs, err = filesystem.New(context.WithoutCancel(ctx), p)
	if err != nil {
		return nil, fmt.Errorf("open filesystem for %s: %w", p, err)
	}
	return fs, nil
}

// Open opens p for reading.
func Open(ctx context.Context, p string) (io.ReadCloser, error) {
	fsys, err := fsFor(ctx, p)
	if err != nil {
		return nil, err
	}
	r, err := fsys.OpenRead(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	return r, nil
}

// Create opens p for writing, replacing any existing file; local parent
// directories are created. The write is committed by Close.
func Create(ctx context.Context, p string) (io.WriteCloser, error) {
	fsys, err := fsFor(ctx, p)
	if err != nil {
		return nil, err
	}
	w, err := fsys.OpenWrite(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", p, err)
	}
	return w, nil
}

// ReadFile returns the contents of p.
func ReadFile(ctx context.Context, p string) ([]byte, error) {
	r, err := Open(ctx, p)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return b, nil
}

// ReadFileIfExists returns the contents of p, or ok false when p does not
// exist.
func ReadFileIfExists(ctx context.Context, p string) (data []byte, ok bool, err error) {
	if ok, err = Exists(ctx, p); err != nil || !ok {
		return nil, false, err
	}
	data, err = ReadFile(ctx, p)
	return data, err == nil, err
}

// WriteFile writes data to p atomically: under a temporary name in the same
// directory, then renamed into place.
func WriteFile(ctx context.Context, p string, data []byte) error {
	return commit(ctx, p, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// commit writes p atomically: fill writes the contents under a temporary
// name in the same directory, which is then renamed into place.
func commit(ctx context.Context, p string, fill func(io.Writer) error) error {
	tmp := TempName(p)
	w, err := Create(ctx, tmp)
	if err != nil {
		return err
	}
	if err := fill(w); err != nil {
		w.Close()
		_ = Remove(context.WithoutCancel(ctx), tmp)
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := w.Close(); err != nil {
		_ = Remove(context.WithoutCancel(ctx), tmp)
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := Rename(ctx, tmp, p); err != nil {
		_ = Remove(context.WithoutCancel(ctx), tmp)
		return err
	}
	return nil
}

// TempPrefix starts the names of files being written; listings of datasets
// ignore them and runs remove leftovers of killed runs.
const TempPrefix = ".tmp-"

var tempSeq struct {
	sync.Mutex
	n uint64
}

// TempName returns a fresh temporary name beside p, unique within the process
// and, through the process id, across processes.
func TempName(p string) string {
	tempSeq.Lock()
	tempSeq.n++
	n := tempSeq.n
	tempSeq.Unlock()
	name := fmt.Sprintf("%s%s.%d-%d", TempPrefix, Base(p), os.Getpid(), n)
	return Join(Dir(p), name)
}

// Size returns the size of p in bytes.
func Size(ctx context.Context, p string) (int64, error) {
	if IsLocal(p) {
		st, err := os.Stat(p)
		if err != nil {
			return 0, fmt.Errorf("stat %s: %w", p, err)
		}
		return st.Size(), nil
	}
	fsys, err := fsFor(ctx, p)
	if err != nil {
		return 0, err
	}
	n, err := fsys.Size(ctx, p)
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", p, err)
	}
	return n, nil
}

// Exists reports whether the file (or, locally, the directory) p exists.
func Exists(ctx context.Context, p string) (bool, error) {
	if IsLocal(p) {
		_, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("stat %s: %w", p, err)
		}
		return true, nil
	}
	fsys, err := fsFor(ctx, p)
	if err != nil {
		return false, err
	}
	// Object stores answer by listing a glob: a name with glob characters
	// of its own is looked for among its directory's files.
	pattern := p
	if HasGlob(p) {
		dir := Dir(p)
		if HasGlob(dir) {
			return false, fmt.Errorf("%s: directories whose names hold *, ? or [ are not supported on %s://", p, Scheme(p))
		}
		pattern = dir + "/*"
	}
	matches, err := fsys.List(ctx, pattern)
	if err != nil {
		return false, fmt.Errorf("list %s: %w", p, err)
	}
	for _, m := range matches {
		if m == p {
			return true, nil
		}
	}
	return false, nil
}

// IsDir reports whether p is a directory: locally a real directory; on object
// stores a prefix with at least one object below it.
func IsDir(ctx context.Context, p string) (bool, error) {
	if IsLocal(p) {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("stat %s: %w", p, err)
		}
		return st.IsDir(), nil
	}
	files, err := ListTree(ctx, p)
	if err != nil {
		return false, err
	}
	return len(files) > 0, nil
}

// Remove deletes p.
func Remove(ctx context.Context, p string) error {
	fsys, err := fsFor(ctx, p)
	if err != nil {
		return err
	}
	rm, ok := fsys.(filesystem.Remover)
	if !ok {
		return fmt.Errorf("remove %s: the %q filesystem cannot remove files", p, Scheme(p))
	}
	if err := rm.Remove(ctx, p); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}

// RemoveIfExists deletes p when it exists.
func RemoveIfExists(ctx context.Context, p string) error {
	ok, err := Exists(ctx, p)
	if err != nil || !ok {
		return err
	}
	return Remove(ctx, p)
}

// Rename moves from to to, replacing to. Filesystems without rename copy and
// delete; the destination appears whole either way.
func Rename(ctx context.Context, from, to string) error {
	fsys, err := fsFor(ctx, from)
	if err != nil {
		return err
	}
	if rn, ok := fsys.(filesystem.Renamer); ok {
		if err := rn.Rename(ctx, from, to); err != nil {
			return fmt.Errorf("rename %s to %s: %w", from, to, err)
		}
		return nil
	}
	if cp, ok := fsys.(filesystem.Copier); ok {
		if err := cp.Copy(ctx, from, to); err != nil {
			return fmt.Errorf("copy %s to %s: %w", from, to, err)
		}
		return Remove(ctx, from)
	}
	return fmt.Errorf("rename %s: the %q filesystem can neither rename nor copy", from, Scheme(from))
}

// List expands a glob. Local globs follow filepath.Match; gs:// also
// understands **; s3:// and memfs:// match each key with filepath.Match
// semantics (so * does not cross /). Directories are not returned.
func List(ctx context.Context, glob string) ([]string, error) {
	fsys, err := fsFor(ctx, glob)
	if err != nil {
		return nil, err
	}
	matches, err := fsys.List(ctx, glob)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", glob, err)
	}
	out := matches[:0]
	for _, m := range matches {
		if IsLocal(m) {
			if st, err := os.Stat(m); err != nil || st.IsDir() {
				continue
			}
		}
		out = append(out, m)
	}
	sort.Strings(out)
	return out, nil
}

// CopyTree copies every file below the directory src to the same relative
// path below dst, on any filesystems, and returns the number copied. Files
// already at dst are replaced; each appears whole (see WriteFile's commit
// by rename), but the tree as a whole does not appear at once.
func CopyTree(ctx context.Context, src, dst string) (int, error) {
	files, err := ListTree(ctx, src)
	if err != nil {
		return 0, err
	}
	for i, f := range files {
		rel, err := Rel(Clean(src), f)
		if err != nil {
			return i, err
		}
		if err := copyFile(ctx, f, Join(dst, rel)); err != nil {
			return i, err
		}
	}
	return len(files), nil
}

// copyFile streams from into to, committed as WriteFile commits.
func copyFile(ctx context.Context, from, to string) error {
	r, err := Open(ctx, from)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := commit(ctx, to, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	}); err != nil {
		return fmt.Errorf("copy %s to %s: %w", from, to, err)
	}
	return nil
}

// maxTreeDepth bounds ListTree on object stores, whose globs cannot recurse
// portably: a dataset is at most root/split/sub/dir/shard deep.
const maxTreeDepth = 6

// ListTree returns every file below dir, sorted. Locally it walks the tree,
// following symbolic links to directories; on object stores it lists one
// level of depth at a time.
func ListTree(ctx context.Context, dir string) ([]string, error) {
	dir = Clean(dir)
	if IsLocal(dir) {
		var out []string
		if err := walkLocal(dir, map[string]bool{}, &out); err != nil {
			return nil, fmt.Errorf("list %s: %w", dir, err)
		}
		sort.Strings(out)
		return out, nil
	}
	if Scheme(dir) == "gs" {
		// Beam's gcs filesystem understands ** (any depth).
		return List(ctx, dir+"/**")
	}
	seen := map[string]bool{}
	var out []string
	pattern := dir
	for depth := 0; depth < maxTreeDepth; depth++ {
		pattern += "/*"
		matches, err := List(ctx, pattern)
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// walkLocal appends the files below dir to out, following symbolic links
// to directories (dir itself may be one); seen holds the real paths of the
// directories on the way down, so a link back up is not followed again.
func walkLocal(dir string, seen map[string]bool, out *[]string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	if seen[real] {
		return nil
	}
	seen[real] = true
	defer delete(seen, real)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			// A dangling link is listed as a file: reading it names it.
			st, err := os.Stat(p)
			isDir = err == nil && st.IsDir()
		}
		if isDir {
			if err := walkLocal(p, seen, out); err != nil {
				return err
			}
			continue
		}
		*out = append(*out, p)
	}
	return nil
}

// HasGlob reports whether p contains glob metacharacters.
func HasGlob(p string) bool { return strings.ContainsAny(p, "*?[") }
