package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil/encoderref"
	"github.com/winnowlabs/winnow/transforms/shardio"
)

// readScores reads the scores that score wrote under metadata.<field> of
// every row of a shard, in order.
func readScores(t *testing.T, path, field string) []map[string]any {
	t.Helper()
	r, err := shardio.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []map[string]any
	for {
		line, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		var row struct {
			Metadata map[string]map[string]any `json:"metadata"`
		}
		if err := json.Unmarshal(line, &row); err != nil {
			t.Fatal(err)
		}
		out = append(out, row.Metadata[field])
	}
}

// TestScoreEncoderParity runs winnow score with the Hugging Face regressor
// fixture on the reference texts and compares with PyTorch's scores; a
// lower --max-length changes exactly the texts it truncates; filter
// --keep-fraction works with an encoder.
func TestScoreEncoderParity(t *testing.T) {
	ref := encoderref.Load(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.MkdirAll(in, 0o755)
	var b strings.Builder
	for i, text := range ref.Texts {
		line, _ := json.Marshal(map[string]any{"id": i, "text": text})
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(filepath.Join(in, "docs.jsonl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	model := encoderref.ClassifierDir(t)
	out, err := runCLI(t, "score", "-i", in, "-o", dir+"/scored", "-m", model, "--no-version-dir")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "model classifier (encoder") || !strings.Contains(out, "normalizer none, score: the model's output") {
		t.Errorf("output:\n%s", out)
	}
	scores := readScores(t, dir+"/scored/docs.jsonl.zst", "classifier")
	if len(scores) != len(ref.Texts) {
		t.Fatalf("%d scored rows for %d texts", len(scores), len(ref.Texts))
	}
	for i, s := range scores {
		want := float64(ref.Classifier.Score[i][0])
		score := s["score"].(float64)
		if math.Abs(score-want) > encoderref.Tol {
			t.Errorf("row %d: score %v, PyTorch %v", i, score, want)
		}
		if got, want := s["int_score"].(float64), math.RoundToEven(min(max(want, 0), 5)); got != want {
			t.Errorf("row %d: int_score %v, want %v", i, got, want)
		}
	}

	const short = 32
	out, err = runCLI(t, "score", "-i", in, "-o", dir+"/short", "-m", model, "--no-version-dir", "--max-length", "32", "--batch-size", "4")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	changed := 0
	for i, s := range readScores(t, dir+"/short/docs.jsonl.zst", "classifier") {
		diff := math.Abs(s["score"].(float64) - float64(ref.Classifier.Score[i][0]))
		if len(ref.Classifier.IDs[i]) <= short && diff > encoderref.Tol {
			t.Errorf("row %d of %d tokens: score changed by %g at --max-length %d", i, len(ref.Classifier.IDs[i]), diff, short)
		}
		if diff > 1e-3 {
			changed++
		}
	}
	if changed < 10 {
		t.Errorf("--max-length %d changed only %d scores", short, changed)
	}

	out, err = runCLI(t, "filter", "-i", in, "-o", dir+"/top", "-m", model, "--keep-fraction", "0.2")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "keep fraction 0.2 of 45 scored rows (target 9)") {
		t.Errorf("filter output:\n%s", out)
	}
}

// TestTrainEncoderCommand trains with `winnow train --kind encoder` on the
// bundled FineWeb-Edu annotations, evaluates, and scores with the result.
func TestTrainEncoderCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "edu")
	for split, src := range map[string]string{"train": "train.jsonl.zst", "valid": "valid.jsonl.zst"} {
		b, err := os.ReadFile(filepath.Join(sampleData(t), src))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(data, split), 0o755)
		os.WriteFile(filepath.Join(data, split, "part-0.jsonl.zst"), b, 0o644)
	}
	os.MkdirAll(filepath.Join(data, "test"), 0o755)
	b, _ := os.ReadFile(filepath.Join(data, "valid", "part-0.jsonl.zst"))
	os.WriteFile(filepath.Join(data, "test", "part-0.jsonl.zst"), b, 0o644)

	model := filepath.Join(dir, "edu-bert")
	out, err := runCLI(t, "train", "--kind", "encoder", "-d", data, "-l", ".scores.score", "--base", encoderref.ClassifierDir(t),
		"-o", model, "--epochs", "2", "--batch-size", "128")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "model: "+model+"/model.safetensors (encoder)") || !strings.Contains(out, "regression range: 0 to 5") {
		t.Errorf("train output:\n%s", out)
	}
	if _, err := os.Stat(model + ".features"); err != nil {
		t.Errorf("no features beside the model: %v", err)
	}
	out, err = runCLI(t, "eval", "-d", data, "-l", ".scores.score", "-m", model)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, w := range []string{"mse ", "r2 ", "rounded to integers", "macro avg"} {
		if !strings.Contains(out, w) {
			t.Errorf("eval output lacks %q:\n%s", w, out)
		}
	}
	out, err = runCLI(t, "score", "-i", filepath.Join(data, "test"), "-o", dir+"/scored", "-m", model, "--no-version-dir")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "1,000 rows in, 1,000 out") || !strings.Contains(out, "model edu-bert (encoder") {
		t.Errorf("score output:\n%s", out)
	}
}
