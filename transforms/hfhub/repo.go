package hfhub

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/gomlx/go-huggingface/hub"
)

// Repository types, as the Hub names them in URLs and cache folders.
const (
	Model   = hub.RepoTypeModel
	Dataset = hub.RepoTypeDataset
)

// DefaultRevision is the branch used when a reference names none.
const DefaultRevision = "main"

// Repo names a repository at a revision.
type Repo struct {
	// Type is Model or Dataset.
	Type hub.RepoType
	// ID is OWNER/NAME (or a legacy NAME without owner).
	ID string
	// Revision is a branch, a tag, refs/pr/N or a commit hash ("" means
	// main).
	Revision string
}

// ModelRepo returns the model repository id at revision.
func ModelRepo(id, revision string) Repo { return Repo{Type: Model, ID: id, Revision: revision} }

// DatasetRepo returns the dataset repository id at revision.
func DatasetRepo(id, revision string) Repo { return Repo{Type: Dataset, ID: id, Revision: revision} }

// Rev returns the revision, main when none is set.
func (r Repo) Rev() string {
	if r.Revision == "" {
		return DefaultRevision
	}
	return r.Revision
}

// String names the repository for messages: "dataset OWNER/NAME" (with
// "@REVISION" when one is set).
func (r Repo) String() string {
	s := strings.TrimSuffix(string(r.Type), "s") + " " + r.ID
	if r.Revision != "" {
		s += "@" + r.Revision
	}
	return s
}

var (
	repoID   = compileOnFirstUse(`^([A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]{0,95}$`)
	commitID = compileOnFirstUse(`^[0-9a-f]{40}$`)
)

// Validate checks the id as huggingface_hub's validate_repo_id does.
func (r Repo) Validate() error {
	if r.Type != Model && r.Type != Dataset {
		return fmt.Errorf("repository type %q: want %s or %s", r.Type, Model, Dataset)
	}
	if !repoID().MatchString(r.ID) || strings.Contains(r.ID, "--") || strings.Contains(r.ID, "..") || strings.HasSuffix(r.ID, ".git") {
		return fmt.Errorf("%q is not a Hub repository id: want OWNER/NAME of letters, digits, '-', '_' and '.'", r.ID)
	}
	if strings.HasPrefix(r.Revision, "/") || strings.Contains(r.Revision, "..") {
		return fmt.Errorf("revision %q of %s is not a valid git revision", r.Revision, r.ID)
	}
	return nil
}

// folder is the repository's cache folder name: models--OWNER--NAME.
func (r Repo) folder() string {
	return string(r.Type) + hub.RepoIdSeparator + strings.ReplaceAll(r.ID, "/", hub.RepoIdSeparator)
}

// page is the repository's web page on endpoint.
func (r Repo) page(endpoint string) string {
	if r.Type == Model {
		return endpoint + "/" + r.ID
	}
	return endpoint + "/" + string(r.Type) + "/" + r.ID
}

// infoURL is the repository-info API URL at revision, with file metadata
// (sizes, git blob ids, LFS SHA-256).
func (r Repo) infoURL(endpoint, revision string) string {
	return fmt.Sprintf("%s/api/%s/%s/revision/%s?blobs=true", endpoint, r.Type, r.ID, url.PathEscape(revision))
}

// resolveURL is a file's download URL at revision, as hf_hub_url builds
// it: the revision escaped whole, the file path segment by segment.
func (r Repo) resolveURL(endpoint, revision, file string) string {
	segs := strings.Split(file, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	prefix := endpoint
	if r.Type != Model {
		prefix += "/" + string(r.Type)
	}
	return fmt.Sprintf("%s/%s/resolve/%s/%s", prefix, r.ID, url.PathEscape(revision), strings.Join(segs, "/"))
}

// Dir returns the repository's folder in the cache rooted at cacheDir.
func (r Repo) Dir(cacheDir string) string { return filepath.Join(cacheDir, r.folder()) }

// validFile refuses repository file names that would escape a snapshot
// folder.
func validFile(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") {
		return fmt.Errorf("invalid file name %q", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("invalid file name %q", name)
		}
	}
	return nil
}

// Ref is a Hub reference to a repository, or to a file or folder in one:
// hf://[models/|datasets/]OWNER/NAME[@REVISION][/PATH], the grammar of
// huggingface_hub's hf:// URIs.
type Ref struct {
	Repo
	// Path is a file or folder inside the repository ("" for all of it).
	Path string
}

// Scheme prefixes Hub references.
const Scheme = "hf://"

// specialRef matches revisions that contain a slash.
var specialRef = compileOnFirstUse(`^refs/(?:convert/[\w.-]+|pr/\d+)`)

// bareID matches OWNER/NAME with nothing else: a path that may name a Hub
// repository when no local file has that name.
var bareID = compileOnFirstUse(`^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]{0,95}$`)

// ParseRef parses an hf:// reference; a repository without type prefix is
// of type def. It reports false, with no error, for anything that does not
// start with hf://.
func ParseRef(s string, def hub.RepoType) (Ref, bool, error) {
	rest, ok := strings.CutPrefix(s, Scheme)
	if !ok {
		return Ref{}, false, nil
	}
	ref := Ref{Repo: Repo{Type: def}}
	for _, t := range []hub.RepoType{Model, Dataset} {
		if r, ok := strings.CutPrefix(rest, string(t)+"/"); ok {
			ref.Type, rest = t, r
			break
		}
	}
	owner, rest, _ := strings.Cut(rest, "/")
	name, rest, _ := strings.Cut(rest, "/")
	if owner == "" || name == "" {
		return Ref{}, true, fmt.Errorf("%s: want hf://OWNER/NAME[@REVISION][/PATH]", s)
	}
	if i := strings.IndexByte(owner, '@'); i >= 0 {
		return Ref{}, true, fmt.Errorf("%s: want hf://OWNER/NAME[@REVISION][/PATH]", s)
	}
	if n, rev, ok := strings.Cut(name, "@"); ok {
		name = n
		// The revision runs to the next slash, except refs/pr/N and
		// refs/convert/NAME, which contain slashes.
		rev += "/" + rest
		if m := specialRef().FindString(rev); m != "" {
			ref.Revision, rest = m, strings.TrimPrefix(rev[len(m):], "/")
		} else {
			ref.Revision, rest, _ = strings.Cut(rev, "/")
		}
		if ref.Revision == "" {
			return Ref{}, true, fmt.Errorf("%s: empty revision after @", s)
		}
	}
	ref.ID = owner + "/" + name
	ref.Path = strings.Trim(rest, "/")
	if err := ref.Validate(); err != nil {
		return Ref{}, true, fmt.Errorf("%s: %w", s, err)
	}
	if ref.Path != "" {
		if err := validFile(ref.Path); err != nil {
			return Ref{}, true, fmt.Errorf("%s: %w", s, err)
		}
	}
	return ref, true, nil
}

// Name is the last element of the reference: its path's base name, else
// the repository's name without owner.
func (r Ref) Name() string {
	if r.Path != "" {
		return r.Path[strings.LastIndexByte(r.Path, '/')+1:]
	}
	return r.ID[strings.LastIndexByte(r.ID, '/')+1:]
}

// String writes the reference in hf:// form.
func (r Ref) String() string {
	s := Scheme
	if r.Type == Dataset {
		s += string(Dataset) + "/"
	}
	s += r.ID
	if r.Revision != "" {
		s += "@" + r.Revision
	}
	if r.Path != "" {
		s += "/" + r.Path
	}
	return s
}

// compileOnFirstUse defers compiling expr to its first use: the bounded
// repetitions of the id patterns compile to large programs, and every
// winnow process, most of which never meet the Hub, would pay for them
// at start.
func compileOnFirstUse(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
