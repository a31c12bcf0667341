package fakecloud

import (
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	// The gs:// and s3:// schemes of Beam's filesystem registry.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/s3"
)

// GCS is an in-process fake Google Cloud Storage server that Beam's gs://
// filesystem talks to for the rest of the test.
type GCS struct {
	// Server is the fake, for inspecting or seeding its objects directly.
	Server *fakestorage.Server
	// Host is the server's address, "127.0.0.1:PORT", as set in
	// STORAGE_EMULATOR_HOST.
	Host string
	log  requestLog
}

// StartGCS starts an in-process fake GCS server
// (github.com/fsouza/fake-gcs-server/fakestorage), creates the buckets,
// points Beam's gcs filesystem at it (STORAGE_EMULATOR_HOST via t.Setenv)
// and stops it at cleanup. Like t.Setenv, it cannot be used in parallel
// tests.
func StartGCS(t testing.TB, buckets ...string) *GCS {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fakecloud: listening for the fake GCS: %v", err)
	}
	host := l.Addr().String()
	// The server serves object downloads (the XML API path /bucket/object)
	// only to requests whose Host is its public host: without this, listing
	// works and reads fail. The external URL is what Server.URL reports and
	// what object metadata links to.
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		NoListener:  true,
		Scheme:      "http",
		PublicHost:  host,
		ExternalURL: "http://" + host,
	})
	if err != nil {
		l.Close()
		t.Fatalf("fakecloud: starting the fake GCS: %v", err)
	}
	g := &GCS{Server: srv, Host: host}
	serve(t, l, g.log.wrap(srv.HTTPHandler()))
	t.Cleanup(srv.Stop)
	for _, b := range buckets {
		g.CreateBucket(b)
	}
	t.Setenv("STORAGE_EMULATOR_HOST", host)
	return g
}

// CreateBucket creates a bucket.
func (g *GCS) CreateBucket(name string) {
	g.Server.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
}

// Requests returns "METHOD /path?query" for every request served so far.
func (g *GCS) Requests() []string { return g.log.list() }

// S3 is an in-process fake S3 server that Beam's s3:// filesystem talks to
// for the rest of the test.
type S3 struct {
	// Backend holds the fake's buckets and objects.
	Backend *s3mem.Backend
	// Endpoint is the server's URL, "http://127.0.0.1:PORT", as set in
	// AWS_ENDPOINT_URL_S3.
	Endpoint string
	log      requestLog
}

// StartS3 starts an in-process S3 emulator (github.com/johannesboyne/gofakes3
// with its s3mem backend), creates the buckets, and points Beam's s3
// filesystem at it through the environment that aws-sdk-go-v2's
// config.LoadDefaultConfig reads (t.Setenv): the endpoint, static
// credentials, a region, no instance metadata and no shared config files.
// The server stops at cleanup. Like t.Setenv, it cannot be used in parallel
// tests.
//
// The endpoint is an IP address, for which the S3 endpoint rules address
// buckets in the path ("http://127.0.0.1:PORT/bucket/key") rather than as a
// virtual host ("bucket.127.0.0.1"), so no client option is needed.
func StartS3(t testing.TB, buckets ...string) *S3 {
	t.Helper()
	backend := s3mem.New()
	s := &S3{Backend: backend}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fakecloud: listening for the fake S3: %v", err)
	}
	s.Endpoint = "http://" + l.Addr().String()
	serve(t, l, s.log.wrap(gofakes3.New(backend).Server()))
	for _, b := range buckets {
		s.CreateBucket(t, b)
	}
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_S3": s.Endpoint,
		// Any other service the SDK might reach goes to the fake too,
		// never to AWS.
		"AWS_ENDPOINT_URL":                       s.Endpoint,
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS":    "",
		"AWS_ACCESS_KEY_ID":                      "fakecloud",
		"AWS_SECRET_ACCESS_KEY":                  "fakecloud",
		"AWS_SESSION_TOKEN":                      "",
		"AWS_REGION":                             "us-east-1",
		"AWS_DEFAULT_REGION":                     "us-east-1",
		"AWS_EC2_METADATA_DISABLED":              "true",
		"AWS_CONFIG_FILE":                        none,
		"AWS_SHARED_CREDENTIALS_FILE":            none,
		"AWS_PROFILE":                            "",
		"AWS_DEFAULT_PROFILE":                    "",
		"AWS_ROLE_ARN":                           "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_USE_FIPS_ENDPOINT":                  "",
		"AWS_USE_DUALSTACK_ENDPOINT":             "",
	} {
		t.Setenv(k, v)
	}
	return s
}

// CreateBucket creates a bucket.
func (s *S3) CreateBucket(t testing.TB, name string) {
	t.Helper()
	if err := s.Backend.CreateBucket(name); err != nil {
		t.Fatalf("fakecloud: creating S3 bucket %q: %v", name, err)
	}
}

// Requests returns "METHOD /path?query" for every request served so far.
func (s *S3) Requests() []string { return s.log.list() }

// serve serves h on l until the test's cleanup.
func serve(t testing.TB, l net.Listener, h http.Handler) {
	ts := httptest.NewUnstartedServer(h)
	ts.Listener.Close()
	ts.Listener = l
	ts.Start()
	t.Cleanup(ts.Close)
}

// requestLog records the requests a fake serves.
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		b.WriteString(r.Method)
		b.WriteByte(' ')
		b.WriteString(r.URL.Path)
		if r.URL.RawQuery != "" {
			b.WriteByte('?')
			b.WriteString(r.URL.RawQuery)
		}
		l.mu.Lock()
		l.reqs = append(l.reqs, b.String())
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (l *requestLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.reqs...)
}
