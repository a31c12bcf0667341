package annotate

import (
	"context"
	"fmt"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil/fakeopenai"
	"github.com/winnowlabs/winnow/transforms/llm/cache"
)

// benchRows yields n distinct rows built from the sample texts.
func benchRows(base []Row, n int) func(yield func(Row) bool) {
	return func(yield func(Row) bool) {
		for i := range n {
			if !yield(Row{Key: fmt.Sprint(i), Text: fmt.Sprintf("[row %d]\n%s", i, base[i%len(base)].Text)}) {
				return
			}
		}
	}
}

// BenchmarkAnnotate measures the per-row cost of sending, recording and
// parsing, with the in-process server answering at once (its CPU is included;
// bench/annotate measures the client alone at a fixed latency).
func BenchmarkAnnotate(b *testing.B) {
	base := sampleRows(b)
	srv := fakeopenai.New(fakeopenai.Config{})
	defer srv.Close()
	store, err := cache.Open(b.TempDir(), cache.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	a := newAnnotator(b, testClient(b, srv.URL, 64), Options{Processor: "json", Cache: store})
	b.ResetTimer()
	st, err := a.Annotate(context.Background(), benchRows(base, b.N), func(Result) {})
	if err != nil || st.Annotated != int64(b.N) {
		b.Fatalf("%v %+v", err, st)
	}
}

// BenchmarkAnnotateFromCache measures a re-run: every row answered by the
// cache.
func BenchmarkAnnotateFromCache(b *testing.B) {
	base := sampleRows(b)
	srv := fakeopenai.New(fakeopenai.Config{})
	defer srv.Close()
	store, err := cache.Open(b.TempDir(), cache.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	a := newAnnotator(b, testClient(b, srv.URL, 64), Options{Processor: "json", Cache: store})
	const n = 2000
	if _, err := a.Annotate(context.Background(), benchRows(base, n), func(Result) {}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for done := 0; done < b.N; done += n {
		st, err := a.Annotate(context.Background(), benchRows(base, min(n, b.N-done)), func(Result) {})
		if err != nil || st.Requests != 0 {
			b.Fatalf("%v %+v", err, st)
		}
	}
}
