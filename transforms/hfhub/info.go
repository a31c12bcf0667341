package hfhub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gomlx/go-huggingface/hub"
)

// File is a file of a repository at a commit.
type File struct {
	// Path is the file's path in the repository, with forward slashes.
	Path string `json:"path"`
	// Size is the file's size in bytes (for an LFS file, the real file's,
	// not its pointer's).
	Size int64 `json:"size"`
	// BlobID is the git blob id (SHA-1 of "blob SIZE\x00" + content) of a
	// file stored in git, or of the LFS pointer of an LFS file.
	BlobID string `json:"blob_id,omitempty"`
	// SHA256 is the content's SHA-256, for LFS files.
	SHA256 string `json:"sha256,omitempty"`
}

// Info is what a repository holds at a revision.
type Info struct {
	Repo Repo
	// Commit is the commit the revision resolved to.
	Commit string
	// Files are the repository's files, sorted by path.
	Files []File
	// Gated is the gating mode ("auto", "manual"), "" when not gated.
	Gated string
	// Listed says where Files came from: "hub" (the API), "tree" (the
	// cache's tree listing of the commit) or "snapshot" (the files a
	// cached snapshot happens to hold; it may lack some).
	Listed string
}

// File returns the repository's file at path.
func (in *Info) File(path string) (File, bool) {
	i := sort.Search(len(in.Files), func(i int) bool { return in.Files[i].Path >= path })
	if i < len(in.Files) && in.Files[i].Path == path {
		return in.Files[i], true
	}
	return File{}, false
}

// Paths returns the files' paths.
func (in *Info) Paths() []string {
	out := make([]string, len(in.Files))
	for i, f := range in.Files {
		out[i] = f.Path
	}
	return out
}

// Info lists the repository's files at its revision. Online, it asks the
// Hub's repository API (as model_info/dataset_info with files_metadata);
// a commit-hash revision whose tree listing is cached needs no request.
// Offline, it resolves the revision through the cache's refs/ and reads
// the commit's tree listing, else the files of the cached snapshot.
func (c *Client) Info(ctx context.Context, repo Repo) (*Info, error) {
	if err := repo.Validate(); err != nil {
		return nil, err
	}
	if commitID().MatchString(repo.Rev()) {
		if files, err := readTree(repo.Dir(c.CacheDir), repo.Rev()); err == nil {
			return &Info{Repo: repo, Commit: repo.Rev(), Files: files, Listed: "tree"}, nil
		}
	}
	if c.Offline {
		return c.cachedInfo(repo)
	}
	what := repo.String()
	resp, _, err := c.sendFollowing(ctx, what, http.MethodGet, repo.infoURL(c.endpoint(), repo.Rev()))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, c.answerError(resp, repo, "", true)
	}
	var ri hub.RepoInfo
	if err := json.NewDecoder(resp.Body).Decode(&ri); err != nil {
		return nil, fmt.Errorf("%s: read the repository info: %w", what, err)
	}
	if !commitID().MatchString(ri.CommitHash) {
		return nil, fmt.Errorf("%s: the repository info has no commit hash (sha %q): is %s a Hugging Face Hub?", what, ri.CommitHash, c.endpoint())
	}
	info := &Info{Repo: repo, Commit: ri.CommitHash, Gated: gating(ri.Gated), Listed: "hub"}
	for _, s := range ri.Siblings {
		if err := validFile(s.Name); err != nil {
			return nil, fmt.Errorf("%s: the repository lists an %w", what, err)
		}
		f := File{Path: s.Name, Size: s.Size, BlobID: s.BlobID}
		if s.LFS != nil {
			f.SHA256, f.Size = s.LFS.SHA256, s.LFS.Size
		}
		info.Files = append(info.Files, f)
	}
	sort.Slice(info.Files, func(i, j int) bool { return info.Files[i].Path < info.Files[j].Path })
	return info, nil
}

func gating(g any) string {
	switch v := g.(type) {
	case string:
		return v
	case bool:
		if v {
			return "auto"
		}
	}
	return ""
}

// cachedInfo answers Info from the cache alone.
func (c *Client) cachedInfo(repo Repo) (*Info, error) {
	dir := repo.Dir(c.CacheDir)
	commit := repo.Rev()
	if !commitID().MatchString(commit) {
		b, err := os.ReadFile(filepath.Join(dir, "refs", filepath.FromSlash(commit)))
		if err != nil {
			return nil, c.newError(ErrNotCached, repo, "", 0, fmt.Sprintf("%s has no refs/%s (run once without HF_HUB_OFFLINE to fill the cache)", dir, commit))
		}
		commit = strings.TrimSpace(string(b))
	}
	if files, err := readTree(dir, commit); err == nil {
		return &Info{Repo: repo, Commit: commit, Files: files, Listed: "tree"}, nil
	}
	snap := filepath.Join(dir, "snapshots", commit)
	var files []File
	err := filepath.WalkDir(snap, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		st, err := os.Stat(p) // through the link to its blob
		if err != nil {
			return nil // a dangling link is not a cached file
		}
		rel, _ := filepath.Rel(snap, p)
		files = append(files, File{Path: filepath.ToSlash(rel), Size: st.Size()})
		return nil
	})
	if err != nil || len(files) == 0 {
		return nil, c.newError(ErrNotCached, repo, "", 0, fmt.Sprintf("the cache %s has no snapshot of commit %s", dir, commit))
	}
	return &Info{Repo: repo, Commit: commit, Files: files, Listed: "snapshot"}, nil
}

// treeFile is the tree-listing cache file huggingface_hub keeps per commit
// (trees/COMMIT.json), so that an offline run knows whether a snapshot is
// complete.
type treeFile struct {
	FormatVersion int                  `json:"format_version"`
	Files         map[string]treeEntry `json:"files"`
}

type treeEntry struct {
	Size      int64  `json:"size"`
	BlobID    string `json:"blob_id"`
	LFSSHA256 string `json:"lfs_sha256,omitempty"`
	LFSSize   int64  `json:"lfs_size,omitempty"`
}

func treePath(repoDir, commit string) string {
	return filepath.Join(repoDir, "trees", commit+".json")
}

func readTree(repoDir, commit string) ([]File, error) {
	b, err := os.ReadFile(treePath(repoDir, commit))
	if err != nil {
		return nil, err
	}
	var t treeFile
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, err
	}
	if t.FormatVersion != 1 || t.Files == nil {
		return nil, errors.New("unknown tree listing format")
	}
	files := make([]File, 0, len(t.Files))
	for p, e := range t.Files {
		if validFile(p) != nil {
			return nil, fmt.Errorf("tree listing names an invalid file %q", p)
		}
		f := File{Path: p, Size: e.Size, BlobID: e.BlobID}
		if e.LFSSHA256 != "" {
			f.SHA256, f.Size = e.LFSSHA256, e.LFSSize
		}
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// writeTree records the commit's listing, unless one is there already.
func writeTree(repoDir string, info *Info) error {
	p := treePath(repoDir, info.Commit)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	t := treeFile{FormatVersion: 1, Files: map[string]treeEntry{}}
	for _, f := range info.Files {
		e := treeEntry{Size: f.Size, BlobID: f.BlobID}
		if f.SHA256 != "" {
			e.LFSSHA256, e.LFSSize = f.SHA256, f.Size
		}
		t.Files[f.Path] = e
	}
	b, err := json.MarshalIndent(t, "", " ")
	if err != nil {
		return err
	}
	return writeAtomic(p, b)
}

// writeRef records the commit a branch or tag points to, as refs/REVISION.
func writeRef(repoDir string, repo Repo, commit string) error {
	if repo.Rev() == commit {
		return nil
	}
	p := filepath.Join(repoDir, "refs", filepath.FromSlash(repo.Rev()))
	if b, err := os.ReadFile(p); err == nil && string(b) == commit {
		return nil
	}
	return writeAtomic(p, []byte(commit))
}

// writeAtomic writes a small file under a temporary name and renames it
// into place.
func writeAtomic(p string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}
