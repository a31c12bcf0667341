package fasttext

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeTrainingFile writes the oracle sentences, repeated, as a training
// file and returns its path with the lines.
func writeTrainingFile(t *testing.T, repeat int) (string, []string) {
	t.Helper()
	lines := trainingLines(t)
	var b strings.Builder
	for range repeat {
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	path := filepath.Join(t.TempDir(), "train.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, lines
}

func smallArgs() Args {
	a := DefaultArgs()
	a.Dim, a.Epoch, a.LR, a.WordNgrams, a.Bucket, a.Minn, a.Maxn, a.Thread = 16, 20, 0.5, 2, 5000, 2, 4, 1
	return a
}

func trainBytes(t *testing.T, path string, a Args) (*Model, []byte) {
	t.Helper()
	m, err := Train(context.Background(), path, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return m, buf.Bytes()
}

// TestTrainFitsAndIsDeterministic trains each loss with one thread twice
// (fast and exact arithmetic) and checks that the runs agree byte for byte
// and that the model learnt its training sentences.
func TestTrainFitsAndIsDeterministic(t *testing.T) {
	path, lines := writeTrainingFile(t, 5)
	for _, loss := range []Loss{LossSoftmax, LossNS, LossHS, LossOVA} {
		for _, exact := range []bool{false, true} {
			a := smallArgs()
			a.Loss, a.Exact = loss, exact
			m, b1 := trainBytes(t, path, a)
			_, b2 := trainBytes(t, path, a)
			if !bytes.Equal(b1, b2) {
				t.Errorf("%s exact=%v: two runs with -thread 1 differ", loss, exact)
			}
			right := 0
			for _, l := range lines {
				label, text, _ := strings.Cut(l, " ")
				if p := m.Predict(text, 1, 0); len(p) == 1 && p[0].Label == label {
					right++
				}
			}
			if right < len(lines)*3/4 {
				t.Errorf("%s exact=%v: %d of %d training sentences right", loss, exact, right, len(lines))
			}
			if m.Args().Loss != loss || m.NumWords() == 0 || len(m.Labels()) != 4 {
				t.Errorf("%s: model args %+v, %d words, labels %v", loss, m.Args(), m.NumWords(), m.Labels())
			}
		}
	}
}

// TestTrainHogwild trains with several threads (skipped under the race
// detector: the threads share the matrices without locks by design).
func TestTrainHogwild(t *testing.T) {
	if raceEnabled {
		t.Skip("Hogwild training races on purpose")
	}
	path, _ := writeTrainingFile(t, 20)
	// Softmax and one-vs-all train per-thread output replicas; ns the
	// shared matrix.
	for _, loss := range []Loss{LossSoftmax, LossOVA, LossNS} {
		a := smallArgs()
		a.Thread, a.Loss = 4, loss
		t.Run(loss.String(), func(t *testing.T) { trainHogwild(t, path, a) })
	}
}

func trainHogwild(t *testing.T, path string, a Args) {
	var reports, starts, dones int
	m, err := Train(context.Background(), path, a, func(p Progress) {
		reports++
		if p.Start {
			starts++
		}
		if p.Done {
			dones++
			if p.Fraction != 1 {
				t.Errorf("final report at %v", p.Fraction)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if starts != 1 || dones != 1 {
		t.Errorf("progress: %d reports, %d starts, %d ends", reports, starts, dones)
	}
	if p := m.Predict("delicious pizza pasta and sweet cake", 1, 0); len(p) != 1 || p[0].Label != "__label__food" {
		t.Errorf("prediction %v", p)
	}
}

func TestTrainErrors(t *testing.T) {
	path, _ := writeTrainingFile(t, 1)
	ctx := context.Background()
	a := smallArgs()
	a.Dim = 0
	if _, err := Train(ctx, path, a, nil); err == nil || !strings.Contains(err.Error(), "dim") {
		t.Errorf("dim 0: %v", err)
	}
	if _, err := Train(ctx, filepath.Join(t.TempDir(), "missing.txt"), smallArgs(), nil); err == nil {
		t.Error("missing input accepted")
	}
	noLabels := filepath.Join(t.TempDir(), "nolabels.txt")
	os.WriteFile(noLabels, []byte("just some text\nand more\n"), 0o644)
	if _, err := Train(ctx, noLabels, smallArgs(), nil); err == nil || !strings.Contains(err.Error(), "no labels") {
		t.Errorf("no labels: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Train(cctx, path, smallArgs(), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled training: %v", err)
	}
}

// TestQuantize quantizes a trained model and checks that it still predicts
// like the dense one, and that the .ftz round-trips.
func TestQuantize(t *testing.T) {
	path, lines := writeTrainingFile(t, 5)
	a := smallArgs()
	dense, _ := trainBytes(t, path, a)
	for _, o := range []QuantizeOptions{{}, {QNorm: true}, {QNorm: true, Cutoff: 300, Retrain: true, Input: path, Epoch: 2, LR: 0.1, Thread: 1}} {
		m, _ := trainBytes(t, path, a)
		if err := m.Quantize(context.Background(), o, nil); err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		if !m.Quantized() {
			t.Fatal("not quantized")
		}
		agree := 0
		for _, l := range lines {
			_, text, _ := strings.Cut(l, " ")
			if m.Predict(text, 1, 0)[0].Label == dense.Predict(text, 1, 0)[0].Label {
				agree++
			}
		}
		if agree < len(lines)*3/4 {
			t.Errorf("%+v: quantized model agrees on %d of %d", o, agree, len(lines))
		}
		var buf bytes.Buffer
		if err := m.Write(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := Read(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			_, text, _ := strings.Cut(l, " ")
			if g, w := back.Predict(text, 2, 0), m.Predict(text, 2, 0); g[0] != w[0] || g[1] != w[1] {
				t.Errorf("reloaded .ftz predicts %v, want %v", g, w)
			}
		}
		if err := m.Quantize(context.Background(), o, nil); err == nil {
			t.Error("quantizing twice accepted")
		}
	}
}

// TestTrainDiverges trains every loss with a learning rate that makes the
// weights overflow and expects ErrDiverged, not a panic on NaN.
func TestTrainDiverges(t *testing.T) {
	path, _ := writeTrainingFile(t, 5)
	for _, loss := range []Loss{LossSoftmax, LossNS, LossHS, LossOVA} {
		for _, exact := range []bool{false, true} {
			a := smallArgs()
			a.Loss, a.Exact, a.LR = loss, exact, 1e6
			if _, err := Train(context.Background(), path, a, nil); !errors.Is(err, ErrDiverged) {
				t.Errorf("%s exact=%v: %v, want ErrDiverged", loss, exact, err)
			}
		}
	}
}

// TestOutputReplicaMerge: two threads' replicas, merged in turn, leave the
// shared matrix with both threads' changes, and each replica with the
// merged values.
func TestOutputReplicaMerge(t *testing.T) {
	shared := []float32{1, 2, 3, 4}
	a, ra := newReplica(shared)
	b, rb := newReplica(shared)
	a[0] += 10
	a[2] -= 1
	b[0] += 5
	b[3] += 2
	ra.merge(a, shared)
	rb.merge(b, shared)
	if want := []float32{16, 2, 2, 6}; !slices.Equal(shared, want) {
		t.Fatalf("shared %v, want %v", shared, want)
	}
	if !slices.Equal(b, shared) || !slices.Equal(rb.base, shared) || rb.since != 0 {
		t.Errorf("replica b %v base %v after merging, shared %v", b, rb.base, shared)
	}
	// a merges again: only what changed since its last merge is added.
	a[1] += 1
	ra.merge(a, shared)
	if want := []float32{16, 3, 2, 6}; !slices.Equal(shared, want) {
		t.Errorf("after a second merge, shared %v, want %v", shared, want)
	}
}
