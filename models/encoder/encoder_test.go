package encoder

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/compute"

	"github.com/winnowlabs/winnow/internal/testutil/encoderref"
	"github.com/winnowlabs/winnow/models/gomlxbackend"
)

const (
	classifierDir = "../../testdata/encoder/classifier"
	embedderDir   = "../../testdata/encoder/embedder"
	// parityTol is the largest difference allowed from the float32
	// PyTorch reference.
	parityTol = encoderref.Tol
)

// reference is testdata/encoder/reference.json.
type reference = encoderref.Reference

func ref(t testing.TB) *reference { return encoderref.Load(t) }

func backend(t testing.TB) compute.Backend {
	t.Helper()
	b, err := gomlxbackend.Open(gomlxbackend.Default)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func load(t testing.TB, dir string, opts Options) *Model {
	t.Helper()
	m, err := Load(dir, backend(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func compute1(t testing.TB, m *Model, texts []string, out Output) []float32 {
	t.Helper()
	res, err := m.Compute(texts, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(texts)*m.OutputDim(out) {
		t.Fatalf("Compute(%s) returned %d values for %d texts", out, len(res), len(texts))
	}
	return res
}

// checkClose fails when got (flat, dim values per text) differs from want
// by more than tol anywhere.
func checkClose(t testing.TB, what string, got []float32, want [][]float32, tol float64) {
	t.Helper()
	worst, at := 0.0, -1
	for i, row := range want {
		dim := len(row)
		if len(got) != len(want)*dim {
			t.Fatalf("%s: %d values, want %d×%d", what, len(got), len(want), dim)
		}
		for j, w := range row {
			if d := math.Abs(float64(got[i*dim+j] - w)); d > worst || math.IsNaN(d) {
				worst, at = d, i
			}
		}
	}
	if worst > tol || math.IsNaN(worst) {
		t.Errorf("%s: max difference %.3g (text %d) exceeds %.0e", what, worst, at, tol)
	} else {
		t.Logf("%s: max difference %.3g", what, worst)
	}
}

func TestTokenIDsMatchReference(t *testing.T) {
	r := ref(t)
	for _, c := range []struct {
		dir    string
		maxLen int
		ids    [][]int
	}{{classifierDir, r.Classifier.MaxLength, r.Classifier.IDs}, {embedderDir, r.Embedder.MaxLength, r.Embedder.IDs}} {
		m := load(t, c.dir, Options{})
		if m.MaxLength() != c.maxLen {
			t.Errorf("%s: MaxLength %d, want %d", c.dir, m.MaxLength(), c.maxLen)
		}
		truncated := 0
		for i, text := range r.Texts {
			got := m.Encode(text)
			if !slices.Equal(got, c.ids[i]) {
				t.Errorf("%s: Encode(text %d)\n got %v\nwant %v", c.dir, i, got, c.ids[i])
			}
			if len(got) == c.maxLen {
				truncated++
			}
		}
		if truncated < 10 {
			t.Errorf("%s: only %d texts reach the maximum length", c.dir, truncated)
		}
	}
}

func TestClassifierParity(t *testing.T) {
	r := ref(t)
	m := load(t, classifierDir, Options{})
	if m.Task() != TaskRegression || m.Dim() != 1 || !slices.Equal(m.Labels(), []string{"LABEL_0"}) {
		t.Errorf("Task %s Dim %d Labels %q", m.Task(), m.Dim(), m.Labels())
	}
	if !slices.Equal(m.Buckets(), []int{64, 128}) {
		t.Errorf("Buckets %v", m.Buckets())
	}
	checkClose(t, "logits", compute1(t, m, r.Texts, OutputLogits), r.Classifier.Score, parityTol)
	checkClose(t, "pooled", compute1(t, m, r.Texts, OutputPooled), r.Classifier.Pooled, parityTol)
	checkClose(t, "cls", compute1(t, m, r.Texts, OutputCLS), r.Classifier.CLS, parityTol)
	score, err := m.Predict(r.Texts)
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "Predict", score, r.Classifier.Score, parityTol)
	if u := m.UnusedTensors(); len(u) != 0 {
		t.Errorf("UnusedTensors = %q", u)
	}
}

func TestEmbedderParity(t *testing.T) {
	r := ref(t)
	m := load(t, embedderDir, Options{})
	if m.Task() != TaskEmbedding || m.Pooling() != PoolMean || m.Dim() != 32 || m.Labels() != nil {
		t.Errorf("Task %s Pooling %q Dim %d Labels %q", m.Task(), m.Pooling(), m.Dim(), m.Labels())
	}
	emb, err := m.Predict(r.Texts)
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "mean", emb, r.Embedder.Mean, parityTol)
	checkClose(t, "cls", compute1(t, m, r.Texts, OutputCLS), r.Embedder.CLS, parityTol)
	if _, err := m.Compute(r.Texts[:1], OutputLogits); err == nil || !strings.Contains(err.Error(), "without a classifier") {
		t.Errorf("Compute(OutputLogits) on a BertModel: %v", err)
	}

	// The same model with CLS pooling and a Normalize module.
	dir := copyDir(t, embedderDir)
	writeFile(t, filepath.Join(dir, "1_Pooling", "config.json"), `{"word_embedding_dimension": 32,
		"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false, "pooling_mode_max_tokens": false}`)
	writeFile(t, filepath.Join(dir, "modules.json"), `[
		{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
		{"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
		{"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]`)
	m = load(t, dir, Options{})
	if m.Pooling() != PoolCLS {
		t.Errorf("Pooling %q, want cls", m.Pooling())
	}
	emb, err = m.Predict(r.Texts)
	if err != nil {
		t.Fatal(err)
	}
	want := make([][]float32, len(r.Embedder.CLS))
	for i, row := range r.Embedder.CLS {
		var ss float64
		for _, v := range row {
			ss += float64(v) * float64(v)
		}
		for _, v := range row {
			want[i] = append(want[i], float32(float64(v)/math.Sqrt(ss)))
		}
	}
	checkClose(t, "normalized cls", emb, want, parityTol)
}

// TestBucketsAndBatches checks that padding, batch sizes and concurrent
// batches do not change the outputs.
func TestBucketsAndBatches(t *testing.T) {
	r := ref(t)
	base := compute1(t, load(t, embedderDir, Options{}), r.Texts, OutputMean)
	for _, opts := range []Options{
		{Buckets: []int{256}},
		{Buckets: []int{16, 32, 48, 96, 1000}, BatchSize: 5, Workers: 3},
		{BatchTokens: 100},
		{BatchSize: 1},
	} {
		m := load(t, embedderDir, opts)
		got := compute1(t, m, r.Texts, OutputMean)
		want := make([][]float32, len(r.Texts))
		for i := range want {
			want[i] = base[i*32 : (i+1)*32]
		}
		checkClose(t, fmt.Sprintf("%+v", opts), got, want, 1e-5)
	}
}

func TestConcurrentCalls(t *testing.T) {
	r := ref(t)
	m := load(t, classifierDir, Options{BatchSize: 4})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			texts := r.Texts[g*5 : g*5+9]
			got, err := m.Predict(texts)
			if err != nil {
				t.Error(err)
				return
			}
			checkClose(t, fmt.Sprintf("goroutine %d", g), got, r.Classifier.Score[g*5:g*5+9], parityTol)
		})
	}
	wg.Wait()
}

func TestMaxLength(t *testing.T) {
	r := ref(t)
	// tokenizer_config.json's model_max_length lowers the truncation, as
	// the option does.
	dir := copyDir(t, classifierDir)
	writeFile(t, filepath.Join(dir, "tokenizer_config.json"), `{"model_max_length": 40}`)
	if m := load(t, dir, Options{}); m.MaxLength() != 40 {
		t.Errorf("MaxLength with model_max_length 40: %d", m.MaxLength())
	}
	m := load(t, classifierDir, Options{MaxLength: 40})
	if m.MaxLength() != 40 || !slices.Equal(m.Buckets(), []int{40}) {
		t.Fatalf("MaxLength %d Buckets %v", m.MaxLength(), m.Buckets())
	}
	var short []string
	var want [][]float32
	for i, text := range r.Texts {
		ids := m.Encode(text)
		if len(ids) > 40 {
			t.Fatalf("Encode(text %d) has %d ids", i, len(ids))
		}
		if full := r.Classifier.IDs[i]; len(full) <= 40 {
			short = append(short, text)
			want = append(want, r.Classifier.Score[i])
		} else if !slices.Equal(ids[:39], full[:39]) || ids[39] != full[len(full)-1] {
			t.Errorf("Encode(text %d) with MaxLength 40 = %v, not the reference's ids cut", i, ids)
		}
	}
	if len(short) < 5 {
		t.Fatalf("only %d texts fit 40 tokens", len(short))
	}
	score, err := m.Predict(short)
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "texts within 40 tokens", score, want, parityTol)
}

// copyDir copies a model directory (one level of subdirectories) into a
// temporary directory.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPlan(t *testing.T) {
	m := &Model{maxLen: 128}
	if err := m.setShape(Options{Buckets: []int{32, 64}, BatchSize: 4, BatchTokens: 300}); err != nil {
		t.Fatal(err)
	}
	// 13 texts in bucket 32 (4 a batch), 7 in bucket 128 (300/128 = 2 a
	// batch), none in bucket 64.
	var ids [][]int
	for i := range 20 {
		n := 10
		if i%3 == 0 && len(ids) > 0 || i >= 18 {
			n = 100
		}
		ids = append(ids, make([]int, n))
	}
	var sizes []string
	seen := map[int]bool{}
	for _, b := range m.plan(ids) {
		sizes = append(sizes, fmt.Sprintf("%d×%d", len(b.rows), b.length))
		for _, r := range b.rows {
			if seen[r] || (len(ids[r]) > b.length) {
				t.Errorf("text %d (%d tokens) in a batch of length %d, or twice", r, len(ids[r]), b.length)
			}
			seen[r] = true
		}
	}
	if len(seen) != len(ids) {
		t.Errorf("%d of %d texts planned", len(seen), len(ids))
	}
	if got, want := strings.Join(sizes, " "), "4×32 4×32 4×32 1×32 2×128 2×128 2×128 1×128"; got != want {
		t.Errorf("batches %s, want %s", got, want)
	}
}
