package cache

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/winnowlabs/winnow/transforms/llm"
)

func answer(key, content string) Entry {
	return Entry{Key: key, Kind: KindAnswer, Content: content, Model: "m", Usage: llm.Usage{PromptTokens: 10, CompletionTokens: 2}}
}

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"+segmentExt))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestConcurrentPutsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				k := fmt.Sprintf("k%d-%d", w, i)
				if err := s.Put(answer(k, "answer "+k)); err != nil {
					t.Error(err)
					return
				}
				if e, ok := s.Answer(k); !ok || e.Content != "answer "+k {
					t.Errorf("Answer(%s) right after Put = %+v, %v", k, e, ok)
				}
			}
		}()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(segments(t, dir)); n != 1 {
		t.Errorf("%d segments, want 1 per process", n)
	}
	r := open(t, dir)
	if a, f := r.Len(); a != 800 || f != 0 {
		t.Fatalf("reopened: %d answers, %d failures; want 800, 0", a, f)
	}
	e, ok := r.Answer("k3-42")
	if !ok || e.Content != "answer k3-42" || e.Usage.PromptTokens != 10 || e.Time == 0 {
		t.Errorf("entry = %+v", e)
	}
	if st := r.Stats(); st.Segments != 1 || st.TornRecords != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestTornLastRecordIsIgnored(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	for i := range 3 {
		if err := s.Put(answer(fmt.Sprint(i), "x")); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	seg := segments(t, dir)[0]
	info, _ := os.Stat(seg)
	full := info.Size()

	// A process killed mid-write leaves part of a record.
	f, _ := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{40, 0, 0, 0, 1, 2, 3, 4, '{', '"'})
	f.Close()
	r := open(t, dir)
	if a, _ := r.Len(); a != 3 || r.Stats().TornRecords != 1 {
		t.Errorf("after a torn tail: %d answers, stats %+v", a, r.Stats())
	}
	// New answers go to a new segment, after the torn one.
	if err := r.Put(answer("3", "y")); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if a, _ := open(t, dir).Len(); a != 4 {
		t.Errorf("after a put following a torn tail: %d answers", a)
	}

	// A flipped byte in the last record fails its checksum.
	if err := os.Truncate(seg, full); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(seg)
	data[len(data)-3] ^= 0xff
	os.WriteFile(seg, data, 0o644)
	r = open(t, dir)
	if _, ok := r.Answer("2"); ok {
		t.Error("a corrupt record was read")
	}
	if _, ok := r.Answer("1"); !ok {
		t.Error("records before the corrupt one were lost")
	}
}

func TestAnswersSupersedeFailures(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	s.Put(Entry{Key: "a", Kind: KindFailure, Reason: "HTTP 500", Time: 1})
	s.Put(Entry{Key: "b", Kind: KindFailure, Reason: "HTTP 500", Time: 1})
	s.Close()
	// A later process (a retry-errors run) answers "a" twice.
	s2 := open(t, dir)
	s2.Put(Entry{Key: "a", Kind: KindAnswer, Content: "first", Time: 2})
	s2.Put(Entry{Key: "a", Kind: KindAnswer, Content: "second", Time: 3})
	s2.Close()
	if n := len(segments(t, dir)); n != 2 {
		t.Fatalf("%d segments, want 2", n)
	}
	r := open(t, dir)
	if e, ok := r.Answer("a"); !ok || e.Content != "second" {
		t.Errorf("Answer(a) = %+v, %v; want the latest", e, ok)
	}
	if _, ok := r.Answer("b"); ok {
		t.Error("b has an answer")
	}
	if f, ok := r.Failure("b"); !ok || f.Reason != "HTTP 500" {
		t.Errorf("Failure(b) = %+v, %v", f, ok)
	}
}

func TestReadOnlyAndInvalid(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "missing"), Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(answer("k", "v")); err == nil {
		t.Error("Put on a read-only store succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); err == nil {
		t.Error("a read-only open created the directory")
	}
	w := open(t, dir)
	if err := w.Put(Entry{Kind: KindAnswer}); err == nil {
		t.Error("an entry without a key was accepted")
	}
	if err := w.Put(Entry{Key: "k", Kind: "maybe"}); err == nil {
		t.Error("an entry of unknown kind was accepted")
	}
	w.Close()
	if err := w.Put(answer("k", "v")); err == nil {
		t.Error("Put after Close succeeded")
	}
	os.WriteFile(filepath.Join(dir, "bogus"+segmentExt), []byte("not a cache segment at all\n"), 0o644)
	if _, err := Open(dir, Options{}); err == nil {
		t.Error("a foreign file with the segment extension was accepted")
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/tmp/xdg-test")
	d, err := DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	if d != "/tmp/xdg-test/winnow/annotate" {
		t.Errorf("DefaultDir = %s", d)
	}
}

func BenchmarkPutSync(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	e := answer("", `{"justification": "a typical answer of a few hundred bytes ...", "score": 3}`)
	b.SetParallelism(32) // many requests finish at once: Puts share fsyncs
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			e := e
			e.Key = fmt.Sprintf("%p-%d", pb, i)
			if err := s.Put(e); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// A cache directory whose name holds glob characters is read back.
func TestDirectoryNameWithGlobCharacters(t *testing.T) {
	for _, name := range []string{"cache[1]", "cache[x", "c*?"} {
		dir := filepath.Join(t.TempDir(), name)
		s := open(t, dir)
		if err := s.Put(answer("k", "an answer")); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if e, ok := open(t, dir).Answer("k"); !ok || e.Content != "an answer" {
			t.Errorf("%s: reopened answer %+v %v", name, e, ok)
		}
	}
}
