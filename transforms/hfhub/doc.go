// Package hfhub downloads models and datasets from a Hugging Face Hub into
// the standard Hugging Face cache, speaking the Hub's HTTP protocol as
// huggingface_hub's snapshot_download and hf_hub_download do, so that
// files are shared with Python tools in both directions.
//
// # Protocol
//
// Info asks the repository API (GET /api/{models,datasets}/ID/revision/REV
// ?blobs=true) for the commit a revision resolves to and the files at that
// commit, with their sizes, git blob ids and, for LFS files, SHA-256.
// Download fetches files by commit hash: a HEAD of
// ENDPOINT/[datasets/]ID/resolve/COMMIT/PATH gives the file's ETag
// (X-Linked-Etag for LFS files), size (X-Linked-Size or Content-Length),
// commit (X-Repo-Commit) and location (a relative redirect is a renamed
// repository and is followed; an absolute one is the CDN, which gets the
// download without the token). Errors follow the Hub's X-Error-Code header
// (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo) and come back
// as *Error values that match ErrRepoNotFound, ErrGated... with errors.Is.
// Answers 429, 408 and 5xx are retried (MaxRetries, waiting as Retry-After
// asks, capped at MaxWait).
//
// # Cache
//
// The layout is huggingface_hub's: under CacheDir (HF_HUB_CACHE, else
// $HF_HOME/hub, else ~/.cache/huggingface/hub) each repository has
// {models,datasets}--OWNER--NAME/ with blobs/ETAG (the content),
// snapshots/COMMIT/PATH (relative symbolic links to the blobs),
// refs/REVISION (the commit a branch or tag pointed to) and
// trees/COMMIT.json (the commit's file listing). A blob is written as
// blobs/ETAG.incomplete, resumed with a Range request after a dropped
// connection or by the next run after an interrupted one, checked (size,
// then SHA-256 or git blob id; a file failing the check is downloaded once
// more, then the call fails and the partial file is removed) and renamed;
// only then is its snapshot link made, under a temporary name renamed into
// place, so that snapshots/ never shows a partial file. Downloads of the
// same blob by two programs are serialized by the lock files
// .locks/REPO/ETAG.lock that huggingface_hub uses. Offline (HF_HUB_OFFLINE=1)
// a revision resolves through refs/, the file list comes from trees/ (else
// from the cached snapshot), and a missing file is an error naming it.
//
// # What github.com/gomlx/go-huggingface/hub provides
//
// That package's Repo downloads into the same layout, and this one uses its
// repository-info types (hub.RepoInfo, whose siblings carry the LFS
// metadata) and repository-type names. Its downloader is not used: it keeps
// no .incomplete file to resume (a dropped connection restarts the file),
// sends no Range request, neither retries 429 nor honours Retry-After,
// checks neither size nor hash, reads the cache location from
// XDG_CACHE_HOME only (not HF_HUB_CACHE or HF_HOME), has no offline mode,
// writes no refs/ (it keeps its own info/ folder), follows the CDN redirect
// on HEAD (naming the blob after the CDN's ETag rather than the file's
// X-Linked-Etag), reports failures as bare status codes without the Hub's
// X-Error-Code, and prints progress to standard output.
package hfhub
