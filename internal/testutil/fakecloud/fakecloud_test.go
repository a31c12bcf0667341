package fakecloud

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/memfs"
	"github.com/aws/smithy-go"
)

// bucket is a DNS-compatible name, the kind the S3 SDK would address as a
// virtual host on a host-name endpoint.
const bucket = "winnow-test"

// target is one filesystem under test, rooted at a fresh prefix.
type target struct {
	name string
	root string // ends in "/"
	fs   filesystem.Interface
}

// targets starts the fakes and returns the four filesystems, each rooted
// at a prefix no other test uses.
func targets(t *testing.T) []target {
	t.Helper()
	ctx := context.Background()
	StartGCS(t, bucket)
	StartS3(t, bucket)
	roots := []struct{ name, root string }{
		{"local", t.TempDir() + "/"},
		{"memfs", "memfs://fakecloud/" + t.Name() + "/"},
		{"gcs", "gs://" + bucket + "/" + t.Name() + "/"},
		{"s3", "s3://" + bucket + "/" + t.Name() + "/"},
	}
	var ts []target
	for _, r := range roots {
		fs, err := filesystem.New(ctx, r.root)
		if err != nil {
			t.Fatalf("filesystem.New(%q): %v", r.root, err)
		}
		t.Cleanup(func() { fs.Close() })
		ts = append(ts, target{r.name, r.root, fs})
	}
	return ts
}

func write(t *testing.T, fs filesystem.Interface, path string, data []byte) {
	t.Helper()
	if err := filesystem.Write(context.Background(), fs, path, data); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}

func read(t *testing.T, fs filesystem.Interface, path string) []byte {
	t.Helper()
	b, err := filesystem.Read(context.Background(), fs, path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return b
}

// list returns the matches of pattern below root, relative to root.
func list(t *testing.T, tg target, pattern string) []string {
	t.Helper()
	got, err := tg.fs.List(context.Background(), tg.root+pattern)
	if err != nil {
		t.Fatalf("%s: List(%q): %v", tg.name, pattern, err)
	}
	rel := []string{}
	for _, p := range got {
		if !strings.HasPrefix(p, tg.root) {
			t.Fatalf("%s: List(%q) returned %q outside the root", tg.name, pattern, p)
		}
		rel = append(rel, strings.TrimPrefix(p, tg.root))
	}
	slices.Sort(rel)
	return rel
}

func exists(t *testing.T, tg target, rel string) bool {
	t.Helper()
	_, err := tg.fs.Size(context.Background(), tg.root+rel)
	return err == nil
}

// TestOptionalInterfaces checks the Renamer/Copier/Remover table of the
// package documentation.
func TestOptionalInterfaces(t *testing.T) {
	want := map[string][3]bool{ // Renamer, Copier, Remover
		"local": {true, true, true},
		"memfs": {true, true, true},
		"gcs":   {true, true, true},
		"s3":    {false, true, true},
	}
	for _, tg := range targets(t) {
		_, rn := tg.fs.(filesystem.Renamer)
		_, cp := tg.fs.(filesystem.Copier)
		_, rm := tg.fs.(filesystem.Remover)
		_, lm := tg.fs.(filesystem.LastModifiedGetter)
		if got := [3]bool{rn, cp, rm}; got != want[tg.name] || !lm {
			t.Errorf("%s: Renamer, Copier, Remover = %v, LastModifiedGetter %v; the documented table says %v, true", tg.name, got, lm, want[tg.name])
		}
	}
}

var files = []string{"a/1.txt", "a/2.txt", "a/b/3.txt", "a/b/c/4.json", "top.txt", "with space.txt"}

func TestWriteListSizeRead(t *testing.T) {
	ctx := context.Background()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			for _, f := range files {
				write(t, tg.fs, tg.root+f, []byte("contents of "+f))
			}
			for _, f := range files {
				want := "contents of " + f
				if n, err := tg.fs.Size(ctx, tg.root+f); err != nil || n != int64(len(want)) {
					t.Errorf("Size(%s) = %d, %v; want %d", f, n, err, len(want))
				}
				r, err := tg.fs.OpenRead(ctx, tg.root+f)
				if err != nil {
					t.Fatalf("OpenRead(%s): %v", f, err)
				}
				b, err := io.ReadAll(r)
				r.Close()
				if err != nil || string(b) != want {
					t.Errorf("OpenRead(%s) = %q, %v; want %q", f, b, err, want)
				}
			}

			// Patterns whose matches are the same on every filesystem.
			for pattern, want := range map[string][]string{
				"a/*.txt":      {"a/1.txt", "a/2.txt"},
				"a/*/*.txt":    {"a/b/3.txt"},
				"*/b/*.txt":    {"a/b/3.txt"},
				"a/*/*/*":      {"a/b/c/4.json"},
				"*/*/c/*.json": {"a/b/c/4.json"},
				"*.txt":        {"top.txt", "with space.txt"},
				"a/1.txt":      {"a/1.txt"},
				"with *":       {"with space.txt"},
				"nothing*":     {},
				"a/*.parquet":  {},
			} {
				if got := list(t, tg, pattern); !slices.Equal(got, want) {
					t.Errorf("List(%q) = %q, want %q", pattern, got, want)
				}
			}

			// Patterns on which the filesystems differ (see the package
			// documentation).
			type expect map[string][]string
			for _, c := range []struct {
				pattern string
				want    expect
			}{
				{"a/*", expect{
					"local": {"a/1.txt", "a/2.txt", "a/b"}, // directories match
					"":      {"a/1.txt", "a/2.txt"},
				}},
				{"a/**", expect{
					"gcs":   {"a/1.txt", "a/2.txt", "a/b/3.txt", "a/b/c/4.json"}, // ** crosses /
					"local": {"a/1.txt", "a/2.txt", "a/b"},
					"":      {"a/1.txt", "a/2.txt"},
				}},
				{"a/", expect{
					"local": {"a/"},
					"":      {},
				}},
				{"a", expect{
					"local": {"a"},
					"":      {},
				}},
				{"a/?.txt", expect{
					"gcs": {}, // the listed prefix is cut only at '*'
					"s3":  {},
					"":    {"a/1.txt", "a/2.txt"},
				}},
				{"a/[12].txt", expect{
					"gcs": {},
					"s3":  {},
					"":    {"a/1.txt", "a/2.txt"},
				}},
				{"*?.txt", expect{ // a '*' first makes '?' work everywhere
					"": {"top.txt", "with space.txt"},
				}},
			} {
				want, ok := c.want[tg.name]
				if !ok {
					want = c.want[""]
				}
				if got := list(t, tg, c.pattern); !slices.Equal(got, want) {
					t.Errorf("List(%q) = %q, want %q", c.pattern, got, want)
				}
			}
		})
	}
}

// TestOverwrite checks that OpenWrite replaces an existing file, also with
// shorter contents.
func TestOverwrite(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			write(t, tg.fs, tg.root+"f", []byte("a longer first version"))
			write(t, tg.fs, tg.root+"f", []byte("short"))
			if got := read(t, tg.fs, tg.root+"f"); string(got) != "short" {
				t.Errorf("after overwrite: %q", got)
			}
		})
	}
}

// TestLargeObject writes 17 MiB in 1 MiB writes: above the S3 upload
// manager's 5 MiB part size (multipart upload) and the GCS writer's 16 MiB
// chunk (resumable upload).
func TestLargeObject(t *testing.T) {
	ctx := context.Background()
	gcs := StartGCS(t, bucket)
	s3 := StartS3(t, bucket)
	data := make([]byte, 17<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(data); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	for _, root := range []string{t.TempDir() + "/", "memfs://fakecloud/large/", "gs://" + bucket + "/large/", "s3://" + bucket + "/large/"} {
		fs, err := filesystem.New(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		path := root + "big.bin"
		w, err := fs.OpenWrite(ctx, path)
		if err != nil {
			t.Fatalf("OpenWrite(%s): %v", path, err)
		}
		for off := 0; off < len(data); off += 1 << 20 {
			if _, err := w.Write(data[off : off+1<<20]); err != nil {
				t.Fatalf("Write(%s): %v", path, err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close(%s): %v", path, err)
		}
		if n, err := fs.Size(ctx, path); err != nil || n != int64(len(data)) {
			t.Errorf("Size(%s) = %d, %v; want %d", path, n, err, len(data))
		}
		if got := read(t, fs, path); !bytes.Equal(got, data) {
			t.Errorf("%s: read back %d bytes that differ from the %d written", path, len(got), len(data))
		}
		fs.Close()
	}
	if !containsAll(s3.Requests(), "/large/big.bin?uploads", "partNumber=4&uploadId=", "/large/big.bin?uploadId=") {
		t.Errorf("S3 saw no multipart upload of 4 parts: %q", s3.Requests())
	}
	if !containsAll(gcs.Requests(), "uploadType=resumable&name=large%2Fbig.bin&upload_id=") {
		t.Errorf("GCS saw no resumable upload: %q", gcs.Requests())
	}
}

// containsAll reports whether every needle is in some request line.
func containsAll(lines []string, needles ...string) bool {
	for _, n := range needles {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, n) }) {
			return false
		}
	}
	return true
}

func TestCopyRemoveRename(t *testing.T) {
	ctx := context.Background()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			write(t, tg.fs, tg.root+"src.txt", []byte("source"))
			write(t, tg.fs, tg.root+"dst.txt", []byte("old destination"))

			cp := tg.fs.(filesystem.Copier)
			if err := cp.Copy(ctx, tg.root+"src.txt", tg.root+"copy.txt"); err != nil {
				t.Fatalf("Copy: %v", err)
			}
			if err := cp.Copy(ctx, tg.root+"src.txt", tg.root+"dst.txt"); err != nil {
				t.Fatalf("Copy over an existing file: %v", err)
			}
			for _, f := range []string{"src.txt", "copy.txt", "dst.txt"} {
				if got := read(t, tg.fs, tg.root+f); string(got) != "source" {
					t.Errorf("after Copy, %s holds %q", f, got)
				}
			}

			rm := tg.fs.(filesystem.Remover)
			if err := rm.Remove(ctx, tg.root+"copy.txt"); err != nil {
				t.Fatalf("Remove: %v", err)
			}
			if exists(t, tg, "copy.txt") || len(list(t, tg, "copy*")) != 0 {
				t.Errorf("copy.txt is still there after Remove")
			}

			if rn, ok := tg.fs.(filesystem.Renamer); ok {
				write(t, tg.fs, tg.root+"dst.txt", []byte("replaced by rename"))
				if err := rn.Rename(ctx, tg.root+"src.txt", tg.root+"dst.txt"); err != nil {
					t.Fatalf("Rename onto an existing file: %v", err)
				}
				if exists(t, tg, "src.txt") {
					t.Errorf("src.txt is still there after Rename")
				}
				if got := read(t, tg.fs, tg.root+"dst.txt"); string(got) != "source" {
					t.Errorf("after Rename, dst.txt holds %q", got)
				}
			}

			// filesystem.Rename works everywhere: Renamer, or Copy + Remove.
			write(t, tg.fs, tg.root+"moved-from", []byte("moved"))
			if err := filesystem.Rename(ctx, tg.fs, tg.root+"moved-from", tg.root+"moved-to"); err != nil {
				t.Fatalf("filesystem.Rename: %v", err)
			}
			if exists(t, tg, "moved-from") || string(read(t, tg.fs, tg.root+"moved-to")) != "moved" {
				t.Errorf("filesystem.Rename left %v / %q", list(t, tg, "moved-*"), read(t, tg.fs, tg.root+"moved-to"))
			}
		})
	}
}

// TestMissingFiles pins what each filesystem does with a file that is not
// there.
func TestMissingFiles(t *testing.T) {
	ctx := context.Background()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			missing := tg.root + "missing.txt"
			_, sizeErr := tg.fs.Size(ctx, missing)
			r, readErr := tg.fs.OpenRead(ctx, missing)
			if readErr == nil {
				// local and gcs open lazily or eagerly; either way no data.
				_, readErr = io.ReadAll(r)
				r.Close()
			}
			if sizeErr == nil || readErr == nil {
				t.Fatalf("Size, OpenRead of a missing file: %v, %v", sizeErr, readErr)
			}
			switch tg.name {
			case "local", "memfs":
				if !errors.Is(sizeErr, os.ErrNotExist) || !errors.Is(readErr, os.ErrNotExist) {
					t.Errorf("errors do not match os.ErrNotExist: %v, %v", sizeErr, readErr)
				}
			case "gcs":
				if !errors.Is(sizeErr, storage.ErrObjectNotExist) || !errors.Is(readErr, storage.ErrObjectNotExist) {
					t.Errorf("errors do not match storage.ErrObjectNotExist: %v, %v", sizeErr, readErr)
				}
			case "s3":
				var api smithy.APIError
				if !errors.As(sizeErr, &api) || api.ErrorCode() != "NotFound" {
					t.Errorf("Size's error does not wrap the API error: %v", sizeErr)
				}
				if errors.As(readErr, &api) || !strings.Contains(readErr.Error(), "NoSuchKey") {
					t.Errorf("OpenRead's error was expected flattened to text naming NoSuchKey: %v", readErr)
				}
			}

			err := tg.fs.(filesystem.Remover).Remove(ctx, missing)
			if wantErr := tg.name == "local" || tg.name == "gcs"; (err != nil) != wantErr {
				t.Errorf("Remove of a missing file: %v; documented as an error: %v", err, wantErr)
			}
			if err := tg.fs.(filesystem.Copier).Copy(ctx, missing, tg.root+"copy-of-missing"); err == nil {
				t.Errorf("Copy of a missing file succeeded")
			}
			if rn, ok := tg.fs.(filesystem.Renamer); ok {
				err := rn.Rename(ctx, missing, tg.root+"renamed-missing")
				n, sizeErr := tg.fs.Size(ctx, tg.root+"renamed-missing")
				if tg.name == "memfs" {
					// The documented quirk: no error, and an empty target.
					if err != nil || sizeErr != nil || n != 0 {
						t.Errorf("memfs Rename of a missing file: %v; target size %d, %v", err, n, sizeErr)
					}
				} else if err == nil || sizeErr == nil {
					t.Errorf("Rename of a missing file: %v; target size %d, %v", err, n, sizeErr)
				}
			}
		})
	}
}

// TestVisibilityBeforeClose pins when written data becomes visible, and
// that an abandoned writer leaves nothing on the object stores.
func TestVisibilityBeforeClose(t *testing.T) {
	ctx := context.Background()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			w, err := tg.fs.OpenWrite(ctx, tg.root+"pending.txt")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte("pending")); err != nil {
				t.Fatal(err)
			}
			visible := exists(t, tg, "pending.txt")
			if want := tg.name == "local"; visible != want {
				t.Errorf("written, not closed: visible %v, documented %v", visible, want)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := read(t, tg.fs, tg.root+"pending.txt"); string(got) != "pending" {
				t.Errorf("after Close: %q", got)
			}
		})
	}
}

// TestLocalDirectories pins that only OpenWrite creates parent directories
// on the local filesystem.
func TestLocalDirectories(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fs, err := filesystem.New(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "x", "y", "src")
	write(t, fs, src, []byte("data")) // creates x/y
	if err := fs.(filesystem.Copier).Copy(ctx, src, filepath.Join(dir, "new1", "dst")); err == nil {
		t.Errorf("local Copy into a missing directory succeeded")
	}
	if err := fs.(filesystem.Renamer).Rename(ctx, src, filepath.Join(dir, "new2", "dst")); err == nil {
		t.Errorf("local Rename into a missing directory succeeded")
	}
}

// TestObjectNames pins how gs:// and s3:// paths are parsed as URLs.
func TestObjectNames(t *testing.T) {
	ctx := context.Background()
	for _, tg := range targets(t) {
		if tg.name != "gcs" && tg.name != "s3" {
			continue
		}
		t.Run(tg.name, func(t *testing.T) {
			write(t, tg.fs, tg.root+"x?y#z.txt", []byte("q"))
			if got := list(t, tg, "x*"); !slices.Equal(got, []string{"x"}) {
				t.Errorf("writing x?y#z.txt made %q, documented: object x", got)
			}
			if _, err := tg.fs.OpenWrite(ctx, tg.root+"100%.txt"); err == nil {
				t.Errorf("a path with a bare %% opened for writing")
			}
			// Names with spaces, '+' and non-ASCII letters write and read.
			for _, name := range []string{"with space.txt", "plus+sign.txt", "ünï.txt"} {
				write(t, tg.fs, tg.root+name, []byte(name))
				if got := read(t, tg.fs, tg.root+name); string(got) != name {
					t.Errorf("%s: read %q", name, got)
				}
				err := tg.fs.(filesystem.Copier).Copy(ctx, tg.root+name, tg.root+"copy of "+name)
				// S3's CopySource is not URL-encoded: the '+' reads as a space.
				if wantErr := tg.name == "s3" && name == "plus+sign.txt"; (err != nil) != wantErr {
					t.Errorf("Copy(%q): %v; documented failing: %v", name, err, wantErr)
				}
			}
		})
	}
}

// TestMissingBucket pins that writing into a missing bucket fails at Close,
// and listing it fails.
func TestMissingBucket(t *testing.T) {
	ctx := context.Background()
	StartGCS(t, bucket)
	StartS3(t, bucket)
	for _, root := range []string{"gs://no-such-bucket/", "s3://no-such-bucket/"} {
		fs, err := filesystem.New(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		w, err := fs.OpenWrite(ctx, root+"f")
		if err != nil {
			t.Fatalf("%s: OpenWrite failed early: %v", root, err)
		}
		if _, err := w.Write([]byte("data")); err != nil {
			t.Fatalf("%s: Write failed early: %v", root, err)
		}
		if err := w.Close(); err == nil {
			t.Errorf("%s: Close into a missing bucket succeeded", root)
		}
		if _, err := fs.List(ctx, root+"*"); err == nil {
			t.Errorf("%s: List of a missing bucket succeeded", root)
		}
	}
}

// TestS3HostNameEndpoint shows why StartS3 uses an IP address: for a host
// name endpoint the SDK addresses a DNS-compatible bucket as a virtual host,
// so no request reaches the fake's path-style bucket.
func TestS3HostNameEndpoint(t *testing.T) {
	s3 := StartS3(t, bucket)
	t.Setenv("AWS_ENDPOINT_URL_S3", strings.Replace(s3.Endpoint, "127.0.0.1", "localhost", 1))
	ctx := context.Background()
	fs, err := filesystem.New(ctx, "s3://"+bucket+"/")
	if err != nil {
		t.Fatal(err)
	}
	// Where bucket.localhost does not resolve the listing fails naming it;
	// where it resolves to loopback the request reaches the fake without
	// the bucket in its path.
	_, err = fs.List(ctx, "s3://"+bucket+"/*")
	reqs := s3.Requests()
	if err == nil && len(reqs) == 0 || err != nil && len(reqs) == 0 && !strings.Contains(err.Error(), bucket+".localhost") {
		t.Errorf("List: %v; requests %q: expected virtual-host addressing of %s.localhost", err, reqs, bucket)
	}
	for _, r := range reqs {
		if strings.Contains(r, "/"+bucket) {
			t.Errorf("a path-style request reached the fake: %s", r)
		}
	}
}
