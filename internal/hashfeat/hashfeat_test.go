package hashfeat

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "rows.jsonl")
	os.WriteFile(p, []byte(`{"text": "Cats, cats and dogs.", "scores": {"score": 3}}
{"text": "", "scores": {"score": 0}}
`), 0o644)
	x, s, err := Read(context.Background(), p, 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(x) != 16 || len(s) != 2 || s[0] != 3 || s[1] != 0 {
		t.Fatalf("features %v scores %v", x, s)
	}
	var norm, max float64
	for _, v := range x[:8] {
		norm += float64(v) * float64(v)
		max = math.Max(max, float64(v))
	}
	// "cats" twice: its bucket holds the largest value, log(3) before
	// normalising; the row has unit norm.
	if math.Abs(norm-1) > 1e-6 || max <= math.Log(2)/math.Sqrt(norm)*0.99 {
		t.Errorf("row 0 = %v", x[:8])
	}
	for _, v := range x[8:] {
		if v != 0 {
			t.Errorf("empty text gave %v", x[8:])
		}
	}
	os.WriteFile(p, []byte(`{"text": "no score"}`+"\n"), 0o644)
	if _, _, err := Read(context.Background(), p, 8); err == nil {
		t.Error("a row without a score was accepted")
	}
}

func TestReadBundledSample(t *testing.T) {
	x, s, err := Read(context.Background(), filepath.Join(testutil.RepoRoot(t), "data/fineweb-edu-llama3-sample/valid.jsonl.zst"), 64)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 1000 || len(x) != 64000 {
		t.Errorf("%d rows, %d values", len(s), len(x))
	}
}
