// Package fakecloud runs in-process GCS and S3 emulators that Apache Beam's
// gs:// and s3:// filesystems (Beam Go SDK v2.77.0) talk to in tests, with
// no credentials and no network beyond loopback. Importing it registers both
// schemes with Beam's filesystem registry. StartGCS and StartS3 configure the
// clients through the environment only (t.Setenv), exactly as a pipeline
// would be configured, so they cannot be used in parallel tests.
//
// # Optional interfaces of Beam's filesystems
//
// Beam's filesystem.Interface has List, OpenRead, OpenWrite and Size; the
// rest is optional. What each filesystem implements, and how (the package
// tests check every cell):
//
//	scheme          Renamer                Copier               Remover
//	local (no ://)  yes: os.Rename,        yes: io.Copy into    yes: os.Remove;
//	                atomic, replaces the   os.Create, not       missing file is
//	                target; no parent dirs atomic; no parent    an error
//	                                       dirs
//	memfs://        yes: map move, atomic; yes, atomic          yes; a missing
//	                a MISSING SOURCE                            file is NOT an
//	                CREATES AN EMPTY                            error
//	                TARGET and no error
//	gs://           yes, but NOT ATOMIC:   yes: server-side     yes; missing
//	                server-side copy then  rewrite; the target  object is an
//	                delete of the source   appears whole        error
//	s3://           NO                     yes: CopyObject;     yes; a missing
//	                (filesystem.Rename     source key is not    key is NOT an
//	                falls back to Copy +   URL-encoded (keys    error
//	                Remove)                with '+' fail)
//
// All four also implement LastModifiedGetter. OpenWrite's data becomes
// visible at Close on memfs, gs and s3 (a writer never closed leaves no
// object, but on gs and s3 keeps its upload open until its context ends);
// on local the file exists, partly written, from OpenWrite on. So an atomic
// commit is write-then-Rename on local and memfs, write-under-a-temporary-
// name-then-Copy(+Remove) or a direct write on gs and s3.
//
// # Quirks found
//
// Glob matching in List differs per scheme:
//
//   - local: filepath.Glob. Directories match too ("dir/*" lists "dir/sub"),
//     and a pattern naming a directory returns it.
//   - memfs: filepath.Match over the flat key space: '*' stops at '/',
//     '?' and '[...]' work, "**" is the same as "*".
//   - gs: its own glob: '*' stops at '/', "**" matches across '/'
//     ("dir/**" lists everything below dir).
//   - s3: filepath.Match: '*' stops at '/', "**" is the same as "*".
//   - gs and s3 list the prefix before the first '*' and filter it, so a
//     pattern whose first wildcard is '?' or '[...]' ("dir/?.txt") matches
//     nothing at all.
//   - No scheme lists a "directory" without a wildcard: "dir" or "dir/"
//     returns nothing on memfs, gs and s3 (and the directory itself on
//     local). List nested objects with "dir/*", "dir/*/*" or, on gs only,
//     "dir/**".
//   - Listing a missing bucket is an error on gs and s3; a pattern that
//     matches nothing is an empty result, not an error, everywhere.
//
// Paths and errors:
//
//   - gs:// and s3:// paths are parsed as URLs: an object name is silently
//     cut at '?' or '#' (writing "gs://b/x?y" writes object "x"), and a '%'
//     not followed by two hex digits is a parse error.
//   - local OpenWrite creates parent directories; local Copy and Rename do
//     not, and fail when the target's directory is missing.
//   - OpenWrite into a missing gs or s3 bucket succeeds; the error comes
//     from Close.
//   - A missing file: local and memfs errors match os.ErrNotExist; gs
//     errors match storage.ErrObjectNotExist (not os.ErrNotExist); s3's
//     OpenRead, Remove and Copy flatten the SDK error with %v, so only its
//     text says NoSuchKey, while s3's Size wraps it (errors.As finds the
//     smithy.APIError, code "NotFound").
//   - memfs is one process-wide store shared by every test in the binary:
//     give each test its own prefix.
//
// # S3 addressing
//
// StartS3 needs no client option: for an endpoint whose host is an IP
// address (AWS_ENDPOINT_URL_S3=http://127.0.0.1:PORT) the S3 endpoint rules
// of aws-sdk-go-v2 use path-style URLs, http://127.0.0.1:PORT/bucket/key,
// instead of the virtual host bucket.127.0.0.1 that could not resolve. A
// host name endpoint such as http://localhost:PORT would get virtual-host
// addressing (bucket.localhost), which environment variables cannot turn off
// (the SDK reads no path-style setting from the environment).
package fakecloud
