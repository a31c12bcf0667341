package cache

import (
	"context"
	"fmt"
	"sync"
	"testing"

	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/memfs"

	"github.com/winnowlabs/winnow/transforms/storage"
)

// A cache on an object store: every flush is an object of its own, and
// another process opening the directory sees every answer a closed (or
// killed) writer recorded.
func TestObjectStoreCache(t *testing.T) {
	dir := "memfs://" + t.Name() + "/cache"
	ro, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open of a cache that does not exist yet: %v", err)
	}
	if a, f := ro.Len(); a != 0 || f != 0 {
		t.Fatalf("empty cache: %d answers, %d failures", a, f)
	}

	s := open(t, dir)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				k := fmt.Sprintf("k%d-%d", w, i)
				if err := s.Put(answer(k, "answer "+k)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// A second writer (another worker) shares the directory.
	s2 := open(t, dir)
	if err := s2.Put(Entry{Key: "k0-0", Kind: KindFailure, Reason: "timeout"}); err != nil {
		t.Fatal(err)
	}
	if err := s2.Put(answer("other", "from the second writer")); err != nil {
		t.Fatal(err)
	}
	// The first is never closed, as if killed: what Put returned is there.
	objs, err := storage.List(context.Background(), storage.Join(dir, "*"+segmentExt))
	if err != nil || len(objs) < 3 {
		t.Fatalf("segment objects %v, %v: want one per flush", objs, err)
	}
	r := open(t, dir)
	if a, f := r.Len(); a != 101 || f != 1 {
		t.Fatalf("reopened: %d answers, %d failures; want 101, 1", a, f)
	}
	if e, ok := r.Answer("k3-24"); !ok || e.Content != "answer k3-24" {
		t.Errorf("k3-24 = %+v, %v", e, ok)
	}
	if st := r.Stats(); st.Segments != len(objs) || st.TornRecords != 0 {
		t.Errorf("stats %+v, %d objects", st, len(objs))
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
}
