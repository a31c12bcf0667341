package train

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/models"
)

// hashEmbedder is a real, simple embedding model for tests: a directory
// holding hash-embedder.txt with its dimension; a text's vector counts its
// words hashed into dim buckets, scaled to unit length.
type hashEmbedder struct {
	info models.EmbedderInfo
}

const hashEmbedderFile = "hash-embedder.txt"

func init() {
	models.RegisterEmbedder("test-hash", func(ctx context.Context, dir string, _ models.EmbedderOptions) (models.Embedder, bool, error) {
		b, err := os.ReadFile(filepath.Join(dir, hashEmbedderFile))
		if os.IsNotExist(err) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		var dim int
		if _, err := fmt.Sscan(string(b), &dim); err != nil || dim <= 0 {
			return nil, false, fmt.Errorf("%s: bad dimension %q", dir, b)
		}
		sum := sha256.Sum256(b)
		return &hashEmbedder{models.EmbedderInfo{Kind: "test-hash", Path: dir, SHA256: hex.EncodeToString(sum[:]), Dim: dim}}, true, nil
	})
}

func (h *hashEmbedder) Info() models.EmbedderInfo { return h.info }

func (h *hashEmbedder) Embed(texts []string, out []float32) error {
	d := h.info.Dim
	for i, t := range texts {
		v := out[i*d : (i+1)*d]
		clear(v)
		for _, w := range strings.Fields(strings.ToLower(t)) {
			f := fnv.New32a()
			f.Write([]byte(w))
			v[f.Sum32()%uint32(d)]++
		}
	}
	return nil
}

func writeHashEmbedder(t *testing.T, dim int) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, hashEmbedderFile), []byte(fmt.Sprint(dim)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeDataset writes a split dataset of rows {"text", "score"}.
func writeDataset(t *testing.T, splits map[string][]string) string {
	t.Helper()
	dir := t.TempDir()
	for split, lines := range splits {
		os.MkdirAll(filepath.Join(dir, split), 0o755)
		if err := os.WriteFile(filepath.Join(dir, split, "part-0.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFeaturesAreTheEmbedderOutputAndResume(t *testing.T) {
	ctx := context.Background()
	data := writeDataset(t, map[string][]string{
		"train": {`{"text":"good words here","score":1}`, `{"text":"bad","score":0}`, `{"text":"Good good","score":"1"}`},
		"test":  {`{"text":"words","score":0}`},
	})
	model := writeHashEmbedder(t, 8)
	e, err := models.LoadEmbedder(ctx, model, models.EmbedderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o := FeatureOptions{
		Datasets: []string{data}, Dir: filepath.Join(t.TempDir(), "features"), Quiet: true,
		Embed: EmbedArgs{Model: model, SHA256: e.Info().SHA256},
	}
	m, err := computeFeatures(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	by, err := readFeatures(ctx, m, 8)
	if err != nil {
		t.Fatal(err)
	}
	train := by["train"]
	if train == nil || train.n() != 3 || by["test"].n() != 1 {
		t.Fatalf("features %+v", by)
	}
	if strings.Join(train.labels, ",") != "1,0,1" {
		t.Errorf("labels %v", train.labels)
	}
	want := make([]float32, 8)
	e.Embed([]string{"Good good"}, want)
	for i, v := range want {
		if train.x[2*8+i] != v {
			t.Fatalf("row 3: %v, want %v", train.x[16:24], want)
		}
	}
	// A second run finds every shard done.
	m2, err := computeFeatures(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if m2.Totals.RowsOut != 4 {
		t.Errorf("second run: %+v", m2.Totals)
	}
	// A missing label fails with the file and line.
	bad := writeDataset(t, map[string][]string{"train": {`{"text":"x","score":1}`, `{"text":"y"}`}})
	o.Datasets, o.Dir = []string{bad}, filepath.Join(t.TempDir(), "f2")
	if _, err := computeFeatures(ctx, o); err == nil || !strings.Contains(err.Error(), "part-0.jsonl:2") {
		t.Errorf("missing label: %v", err)
	}
	// A model that changed since planning is refused.
	o.Datasets, o.Embed.SHA256 = []string{data}, strings.Repeat("0", 64)
	o.Dir = filepath.Join(t.TempDir(), "f3")
	if _, err := computeFeatures(ctx, o); err == nil || !strings.Contains(err.Error(), "changed since") {
		t.Errorf("changed model: %v", err)
	}
}
