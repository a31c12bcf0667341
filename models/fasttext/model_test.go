package fasttext

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
)

// TestLoadSaveIdentical checks that reading and writing a dense model
// reproduces the file byte for byte, for each loss.
func TestLoadSaveIdentical(t *testing.T) {
	for _, name := range []string{"softmax.bin", "ns.bin", "hs.bin", "ova.bin"} {
		checkRoundTrip(t, syntheticPath(t, name))
	}
}

// TestLoadSaveIdenticalQuantized does the same for lid.176.ftz: quantized
// input, pruned dictionary, hierarchical softmax.
func TestLoadSaveIdenticalQuantized(t *testing.T) {
	checkRoundTrip(t, testutil.SharedData(t, "fasttext/lid.176.ftz"))
}

func checkRoundTrip(t *testing.T, path string) {
	t.Helper()
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Read(bytes.NewReader(orig))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var buf bytes.Buffer
	if err := m.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), orig) {
		t.Errorf("%s: written model differs from the file (%d vs %d bytes)", path, buf.Len(), len(orig))
	}
	out := t.TempDir() + "/m.bin"
	if err := m.Save(out); err != nil {
		t.Fatal(err)
	}
	if saved, _ := os.ReadFile(out); !bytes.Equal(saved, orig) {
		t.Errorf("%s: Save wrote different bytes", path)
	}
}

func TestReadErrors(t *testing.T) {
	orig, err := os.ReadFile(syntheticPath(t, "softmax.bin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "header"},
		{"magic", append([]byte{1, 2, 3, 4}, orig[4:]...), "not a fastText model"},
		{"version", append(append(append([]byte(nil), orig[:4]...), 99, 0, 0, 0), orig[8:]...), "newer"},
		{"truncated args", orig[:30], "arguments"},
		{"truncated dictionary", orig[:200], "dictionary"},
		{"truncated matrix", orig[:len(orig)-100], "output matrix"},
	} {
		_, err := Read(bytes.NewReader(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	if _, err := Load(t.TempDir() + "/missing.bin"); err == nil {
		t.Error("missing file loaded")
	}
}

// TestPredictOptions checks k, threshold and the allocation-free path.
func TestPredictOptions(t *testing.T) {
	m, err := Load(syntheticPath(t, "softmax.bin"))
	if err != nil {
		t.Fatal(err)
	}
	text := "hello good morning how are you"
	all := m.Predict(text, 0, 0)
	if len(all) != len(m.Labels()) {
		t.Fatalf("k=0 gave %d predictions, want all %d", len(all), len(m.Labels()))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Prob > all[i-1].Prob {
			t.Errorf("predictions not sorted: %v", all)
		}
	}
	if got := m.Predict(text, 2, 0); len(got) != 2 || got[0] != all[0] || got[1] != all[1] {
		t.Errorf("k=2: %v, want the first two of %v", got, all)
	}
	th := (all[1].Prob + all[2].Prob) / 2
	if got := m.Predict(text, -1, th); len(got) != 2 {
		t.Errorf("threshold %v kept %d predictions, want 2", th, len(got))
	}
	if got := m.Labels()[all[0].ID]; got != all[0].Label {
		t.Errorf("ID %d names %s, not %s", all[0].ID, got, all[0].Label)
	}
	p := m.NewPredictor()
	dst := make([]Prediction, 0, 4)
	allocs := testing.AllocsPerRun(100, func() {
		dst = p.AppendPredict(dst[:0], text, 3, 0)
	})
	if allocs != 0 {
		t.Errorf("AppendPredict allocates %v times per call", allocs)
	}
	if got := m.PredictBatch([]string{text, "cold rain"}, 1, 0); len(got) != 2 || got[0][0] != all[0] {
		t.Errorf("PredictBatch: %v", got)
	}
	if got := m.Predict("", 1, 0); len(got) != 1 {
		t.Errorf("empty text (end-of-line token only) gave %v", got)
	}
}

// TestPredictConcurrent checks that concurrent predictions agree with
// sequential ones (run with -race to check the pooling).
func TestPredictConcurrent(t *testing.T) {
	m, err := Load(syntheticPath(t, "hs.bin"))
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"hello good morning how are you", "cold rain and snow", "the software code runs", "delicious pizza pasta"}
	want := make([][]Prediction, len(texts))
	for i, s := range texts {
		want[i] = m.Predict(s, 3, 0)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 200; n++ {
				i := (n + g) % len(texts)
				got := m.Predict(texts[i], 3, 0)
				for j := range got {
					if got[j] != want[i][j] {
						errs <- texts[i]
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent prediction of %q differs", e)
	}
}

// TestLoadMapped loads a model whose input matrix is large enough to be
// mapped from the file (on Linux, where the filesystem allows it) and
// checks it against the same model read into memory: predictions, vectors
// and the bytes it writes. Writing to the mapped rows (as quantization's
// normalisation does) must leave the file untouched.
func TestLoadMapped(t *testing.T) {
	path, lines := writeTrainingFile(t, 2)
	a := smallArgs()
	a.Dim, a.Bucket, a.Epoch = 16, mapMatrixMinBytes/64+1000, 2
	m, err := Train(context.Background(), path, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(t.TempDir(), "big.bin")
	if err := m.Save(model); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	mapped, err := Load(model)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d MB input matrix mapped: %v", len(orig)>>20, mapped.input.mapped)
	read, err := Read(bytes.NewReader(orig))
	if err != nil {
		t.Fatal(err)
	}
	if read.input.mapped {
		t.Fatal("a model read from memory reports a mapped matrix")
	}
	for _, l := range lines {
		if g, w := mapped.Predict(l, 2, 0), read.Predict(l, 2, 0); len(g) != len(w) || g[0] != w[0] || g[1] != w[1] {
			t.Fatalf("%q: mapped model predicts %v, read one %v", l, g, w)
		}
		g, w := mapped.SentenceVector(l), read.SentenceVector(l)
		closeSlices(t, "sentence vector", len(w), g, w, 0)
	}
	var buf bytes.Buffer
	if err := mapped.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), orig) {
		t.Error("the mapped model writes different bytes")
	}
	for i := 0; i < len(mapped.input.data); i += 1 << 16 {
		mapped.input.data[i] = 42
	}
	if after, _ := os.ReadFile(model); !bytes.Equal(after, orig) {
		t.Error("writing to the mapped matrix changed its file")
	}
}
