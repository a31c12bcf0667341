// Package cache is the persistent response cache of LLM annotation: every
// answer paid for is kept, keyed on the whole request (llm.Request.Key), so
// that no request is ever sent twice, across re-runs, crashes and kills.
//
// # Layout and durability
//
// A cache is a directory of append-only log segments ("*.wlog"). Each process
// that writes opens a segment of its own, with a unique name (time, process id,
// random suffix), and never appends to another: many processes (Beam workers)
// can share one directory without locks. Open reads every segment present;
// segments written by other processes later are not seen by an open Store.
//
// A segment starts with the line "winnow-llm-cache 1\n", then holds records:
// a 4-byte little-endian payload length, the 4-byte CRC-32C of the payload,
// and the payload, one JSON Entry. Put returns only once its record is written
// and, unless Options.NoSync, fsynced (concurrent Puts share one fsync), so an
// answer reported as done is on disk. Replay stops at the first record that is
// short or fails its checksum: a process killed mid-write leaves at most a
// torn last record, which is ignored.
//
// # On an object store
//
// A cache directory may be on gs:// or s3://, where workers on other
// machines share it. Objects cannot be appended to: each flush of a process
// (one Put, or the Puts that share a group commit) is written as a segment
// object of its own, named after the process's segment with a sequence
// number, and is durable once Put returns. An object appears only when it
// is complete, so a killed process leaves no torn segment there.
//
// # Answers and failures
//
// The cache holds answers (the server's reply, with model and usage) and
// failures (requests that failed after every attempt, with the reason). An
// answer supersedes failures of the same key; among several answers for a
// key (re-sent with retry-errors), the latest recorded wins.
package cache

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/winnowlabs/winnow/transforms/llm"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// Kind tells answers from failures.
type Kind string

// Entry kinds.
const (
	KindAnswer  Kind = "answer"
	KindFailure Kind = "failure"
)

// Entry is one cached answer or failure.
type Entry struct {
	// Key is the request's key (llm.Request.Key).
	Key  string `json:"key"`
	Kind Kind   `json:"kind"`
	// Time is when the entry was recorded (Unix nanoseconds).
	Time int64 `json:"time"`
	// Content is the answer text (for a failure: the server's error body,
	// when there was one).
	Content string `json:"content,omitempty"`
	// Refusal is the model's refusal message, when it refused.
	Refusal      string    `json:"refusal,omitempty"`
	Model        string    `json:"model,omitempty"`
	FinishReason string    `json:"finish_reason,omitempty"`
	ServiceTier  string    `json:"service_tier,omitempty"`
	Usage        llm.Usage `json:"usage,omitzero"`
	// Batch is true for answers obtained through the Batch API (billed at
	// the batch price).
	Batch bool `json:"batch,omitempty"`
	// Reason says why a failure failed.
	Reason string `json:"reason,omitempty"`
	// Status is a failure's last HTTP status (0 for timeouts and
	// connection errors).
	Status int `json:"status,omitempty"`
	// Attempts is the number of attempts made.
	Attempts int `json:"attempts,omitempty"`
}

// Options configure a Store.
type Options struct {
	// NoSync skips fsync: answers survive the process being killed, not
	// the machine losing power. For benchmarks and throwaway caches.
	NoSync bool
	// ReadOnly opens the cache without ever creating a segment.
	ReadOnly bool
}

// Stats describe what Open read.
type Stats struct {
	Segments int
	Answers  int
	Failures int
	// TornRecords counts segments whose tail was a torn or corrupt record
	// (ignored).
	TornRecords int
}

const (
	segmentHeader = "winnow-llm-cache 1\n"
	segmentExt    = ".wlog"
	// maxRecord guards against reading a corrupt length as a huge record.
	maxRecord = 256 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Store is an open cache. It is safe for concurrent use.
type Store struct {
	dir  string
	opts Options

	mu       sync.RWMutex
	answers  map[string]Entry
	failures map[string]Entry
	stats    Stats

	// Group commit of the writer.
	wmu        sync.Mutex
	cond       *sync.Cond
	seg        *os.File
	segName    string // this process's segment (on an object store: its objects' stem)
	segObjects int    // objects written on an object store
	buf        []byte
	bufGen     uint64 // generation of the records in buf
	durableGen uint64 // last generation written (and synced)
	flushing   bool
	werr       error
	closed     bool
}

// DefaultDir returns the cache's default location, outside any output
// directory: $XDG_CACHE_HOME/winnow/annotate, else the platform's user cache
// directory (~/.cache on Linux) joined with winnow/annotate.
func DefaultDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no user cache directory (set XDG_CACHE_HOME or give a cache directory): %w", err)
	}
	return filepath.Join(base, "winnow", "annotate"), nil
}

// Open reads the cache in dir, creating the directory unless read-only. dir
// may be local or on an object store (gs://, s3://).
func Open(dir string, opts Options) (*Store, error) {
	if !opts.ReadOnly && storage.IsLocal(dir) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create cache directory: %w", err)
		}
	}
	s := &Store{dir: dir, opts: opts, answers: map[string]Entry{}, failures: map[string]Entry{}}
	s.cond = sync.NewCond(&s.wmu)
	names, err := segmentFiles(dir, opts.ReadOnly)
	if err != nil {
		return nil, fmt.Errorf("list cache segments: %w", err)
	}
	for _, name := range names {
		if err := s.replay(name); err != nil {
			return nil, err
		}
		s.stats.Segments++
	}
	s.stats.Answers, s.stats.Failures = len(s.answers), len(s.failures)
	return s, nil
}

// segmentFiles lists the segment files of dir, sorted; a missing directory has
// none when it need not exist.
func segmentFiles(dir string, mayBeMissing bool) ([]string, error) {
	var names []string
	if !storage.IsLocal(dir) {
		var err error
		if names, err = storage.List(context.Background(), storage.Join(dir, "*"+segmentExt)); err != nil {
			return nil, err
		}
	} else {
		// Listed, not globbed: the directory's own name may hold [, * or ?.
		entries, err := os.ReadDir(dir)
		if err != nil && !(mayBeMissing && errors.Is(err, os.ErrNotExist)) {
			return nil, err
		}
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), segmentExt) {
				names = append(names, filepath.Join(dir, e.Name()))
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// Dir returns the cache directory.
func (s *Store) Dir() string { return s.dir }

// Stats returns what Open read.
func (s *Store) Stats() Stats { return s.stats }

func (s *Store) replay(name string) error {
	var f io.ReadCloser
	var err error
	if storage.IsLocal(name) {
		f, err = os.Open(name)
	} else {
		f, err = storage.Open(context.Background(), name)
	}
	if err != nil {
		return fmt.Errorf("open cache segment: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	header := make([]byte, len(segmentHeader))
	if _, err := io.ReadFull(r, header); err != nil {
		// A segment killed before its header was written holds nothing.
		s.stats.TornRecords++
		return nil
	}
	if string(header) != segmentHeader {
		return fmt.Errorf("cache segment %s: not a winnow cache segment", name)
	}
	var head [8]byte
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			if err != io.EOF {
				s.stats.TornRecords++
			}
			return nil
		}
		n := binary.LittleEndian.Uint32(head[:4])
		sum := binary.LittleEndian.Uint32(head[4:])
		if n > maxRecord {
			s.stats.TornRecords++
			return nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil || crc32.Checksum(payload, crcTable) != sum {
			s.stats.TornRecords++
			return nil
		}
		var e Entry
		if err := json.Unmarshal(payload, &e); err != nil || e.Key == "" {
			s.stats.TornRecords++
			return nil
		}
		s.index(e)
	}
}

// index adds an entry to the in-memory maps.
func (s *Store) index(e Entry) {
	switch e.Kind {
	case KindAnswer:
		if old, ok := s.answers[e.Key]; !ok || newer(e, old) {
			s.answers[e.Key] = e
		}
	case KindFailure:
		if old, ok := s.failures[e.Key]; !ok || newer(e, old) {
			s.failures[e.Key] = e
		}
	}
}

// newer orders entries of one key: later Time first, then content, so that
// replaying segments in any order gives the same result.
func newer(a, b Entry) bool {
	if a.Time != b.Time {
		return a.Time > b.Time
	}
	return a.Content > b.Content
}

// Answer returns the cached answer of a key.
func (s *Store) Answer(key string) (Entry, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.answers[key]
	return e, ok
}

// Failure returns the recorded failure of a key. A key with an answer has no
// failure that matters: check Answer first.
func (s *Store) Failure(key string) (Entry, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.failures[key]
	return e, ok
}

// Len returns the number of keys with an answer and with a failure.
func (s *Store) Len() (answers, failures int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.answers), len(s.failures)
}

// Put records an entry durably: it returns once the record is written (and
// synced unless NoSync). Time is set when zero.
func (s *Store) Put(e Entry) error {
	if e.Key == "" || (e.Kind != KindAnswer && e.Kind != KindFailure) {
		return fmt.Errorf("cache: invalid entry (key %q, kind %q)", e.Key, e.Kind)
	}
	if s.opts.ReadOnly {
		return errors.New("cache: opened read-only")
	}
	if e.Time == 0 {
		e.Time = time.Now().UnixNano()
	}
	payload, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("cache: encode entry: %w", err)
	}
	if err := s.append(payload); err != nil {
		return err
	}
	s.mu.Lock()
	s.index(e)
	s.mu.Unlock()
	return nil
}

// append adds a record to the segment with group commit: the first writer
// that finds no flush in progress writes and syncs every record buffered so
// far, the others wait for their generation to become durable.
func (s *Store) append(payload []byte) error {
	var head [8]byte
	binary.LittleEndian.PutUint32(head[:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(head[4:], crc32.Checksum(payload, crcTable))

	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return errors.New("cache: closed")
	}
	if s.werr != nil {
		return s.werr
	}
	s.buf = append(s.buf, head[:]...)
	s.buf = append(s.buf, payload...)
	gen := s.bufGen + 1 // the generation this record will be flushed in
	for s.durableGen < gen {
		if s.werr != nil {
			return s.werr
		}
		if s.flushing {
			s.cond.Wait()
			continue
		}
		s.flushing = true
		data := s.buf
		s.buf = nil
		s.bufGen++
		flushed := s.bufGen
		s.wmu.Unlock()
		err := s.write(data)
		s.wmu.Lock()
		s.flushing = false
		if err != nil {
			s.werr = fmt.Errorf("cache: write %s: %w", s.dir, err)
		} else {
			s.durableGen = flushed
		}
		s.cond.Broadcast()
	}
	return s.werr
}

// write appends data to this process's segment, creating it first; on an
// object store it writes data as a new segment object.
func (s *Store) write(data []byte) error {
	if s.segName == "" {
		name, err := segmentName()
		if err != nil {
			return err
		}
		s.segName = name
	}
	if !storage.IsLocal(s.dir) {
		return s.writeObject(data)
	}
	if s.seg == nil {
		f, err := s.createSegment()
		if err != nil {
			return err
		}
		s.seg = f
	}
	if _, err := s.seg.Write(data); err != nil {
		return err
	}
	if !s.opts.NoSync {
		return s.seg.Sync()
	}
	return nil
}

// segmentName returns a new segment's name, unique across processes and
// machines: time, host, process id and a random suffix (without extension).
func segmentName() (string, error) {
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, host)
	return fmt.Sprintf("%s-%s-%d-%s", time.Now().UTC().Format("20060102T150405"), host, os.Getpid(), hex.EncodeToString(rnd[:])), nil
}

// writeObject writes data as the next object of this process's segment. An
// object store's object appears only once its write completes.
func (s *Store) writeObject(data []byte) error {
	s.segObjects++
	name := storage.Join(s.dir, fmt.Sprintf("%s-%06d%s", s.segName, s.segObjects, segmentExt))
	ctx := context.Background()
	w, err := storage.Create(ctx, name)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, segmentHeader)
	if err == nil {
		_, err = w.Write(data)
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *Store) createSegment() (*os.File, error) {
	name := s.segName + segmentExt
	f, err := os.OpenFile(filepath.Join(s.dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if _, err := f.WriteString(segmentHeader); err != nil {
		f.Close()
		return nil, err
	}
	if !s.opts.NoSync {
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
		if d, err := os.Open(s.dir); err == nil {
			_ = d.Sync() // make the new file's name durable
			d.Close()
		}
	}
	return f, nil
}

// Close closes the segment. Puts after Close fail.
func (s *Store) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for s.flushing {
		s.cond.Wait()
	}
	s.closed = true
	if s.seg == nil {
		return nil
	}
	err := s.seg.Close()
	s.seg = nil
	if err != nil {
		return fmt.Errorf("cache: close segment: %w", err)
	}
	return nil
}
