package models

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/models/fasttext"
	"github.com/winnowlabs/winnow/models/modeldir"
	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/shardio"
)

func mustLoad(t *testing.T, path string, o LoadOptions) Classifier {
	t.Helper()
	c, err := Load(context.Background(), path, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func predictOne(t *testing.T, c Classifier, text string) Prediction {
	t.Helper()
	out := make([]Prediction, 1)
	if err := c.Predict([]string{text}, out); err != nil {
		t.Fatal(err)
	}
	return out[0]
}

type oracleCase struct {
	Text   string    `json:"text"`
	Labels []string  `json:"labels"`
	Probs  []float64 `json:"probs"`
}

// checkOracle compares every probability fastText reported with the
// classifier's probability of the same label.
func checkOracle(t *testing.T, c Classifier, oc oracleCase) {
	t.Helper()
	p := predictOne(t, c, oc.Text)
	labels := c.Info().Labels
	for i, l := range oc.Labels {
		j := indexOf(labels, strings.TrimPrefix(l, "__label__"))
		if j < 0 {
			t.Fatalf("label %s missing from %v", l, labels)
		}
		if math.Abs(float64(p.Probs[j])-oc.Probs[i]) > 1e-5 {
			t.Errorf("%q: P(%s) = %.7f, fastText says %.7f", oc.Text, l, p.Probs[j], oc.Probs[i])
		}
	}
	if want := strings.TrimPrefix(oc.Labels[0], "__label__"); labels[p.Top] != want {
		t.Errorf("%q: top label %s, fastText says %s", oc.Text, labels[p.Top], want)
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// TestExternalFastTextModels loads the fastText-trained fixtures (one per
// loss) as external model files and checks every label probability against
// what official fastText printed for them.
func TestExternalFastTextModels(t *testing.T) {
	dir := testutil.Testdata(t, "fasttext/fasttext-net")
	var oracle []struct {
		Model string       `json:"model"`
		Cases []oracleCase `json:"cases"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "synthetic_oracle.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &oracle); err != nil {
		t.Fatal(err)
	}
	for _, o := range oracle {
		t.Run(o.Model, func(t *testing.T) {
			c := mustLoad(t, filepath.Join(dir, o.Model), LoadOptions{})
			info := c.Info()
			if info.Kind != KindFastText || info.Normalizer.Name != normalize.Newlines || info.Scoring.Mode != ScoreTop {
				t.Errorf("info %+v: want fasttext, newlines normalizer, top-label scoring", info)
			}
			if len(info.SHA256) != 64 || info.Name != strings.TrimSuffix(o.Model, ".bin") {
				t.Errorf("name %q, sha256 %q", info.Name, info.SHA256)
			}
			for _, oc := range o.Cases {
				checkOracle(t, c, oc)
				p := predictOne(t, c, oc.Text)
				if math.Abs(p.Score-oc.Probs[0]) > 1e-5 {
					t.Errorf("%q: score %v, want the top probability %v", oc.Text, p.Score, oc.Probs[0])
				}
			}
		})
	}
}

// TestLanguageID scores with the official lid.176.ftz: its oracle, then real
// FineWeb-2 documents whose language is known.
func TestLanguageID(t *testing.T) {
	model := testutil.SharedData(t, "fasttext/lid.176.ftz")
	c := mustLoad(t, model, LoadOptions{})
	info := c.Info()
	if info.Name != "lid_176" || len(info.Labels) != 176 {
		t.Fatalf("name %q with %d labels, want lid_176 with 176", info.Name, len(info.Labels))
	}
	var cases []oracleCase
	b, err := os.ReadFile(testutil.SharedData(t, "fasttext/fasttext-net-fixtures/oracle_lid.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, oc := range cases {
		checkOracle(t, c, oc)
	}

	want := map[string]string{"deu": "de", "nob": "no", "spa": "es", "srp": "sr"}
	var docs, agree int
	for _, d := range webText(t) {
		p := predictOne(t, c, d.Text)
		docs++
		if info.Labels[p.Top] == want[d.Language] {
			agree++
		}
	}
	// FineWeb-2's own language ID (GlotLID) labelled these documents;
	// lid.176 must agree on nearly all of them.
	if docs != 1600 || float64(agree) < 0.95*float64(docs) {
		t.Errorf("lid.176 agrees with the documents' language on %d of %d", agree, docs)
	}
}

type webDoc struct {
	Text     string `json:"text"`
	Language string `json:"language"`
}

func webText(t *testing.T) []webDoc {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testutil.SharedData(t, "web-text"), "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no web-text files: %v", err)
	}
	var docs []webDoc
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			var d webDoc
			if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
				t.Fatal(err)
			}
			docs = append(docs, d)
		}
		fh.Close()
	}
	return docs
}

// TestMatchesFastTextCLI feeds the same documents, newlines turned into
// spaces, to Debian's fastText predict-prob: the Newlines normalizer must
// make the classifier see exactly what the C++ tool sees.
func TestMatchesFastTextCLI(t *testing.T) {
	bin, err := exec.LookPath("fasttext")
	if err != nil {
		t.Skip("fasttext (Debian package fasttext) is not installed")
	}
	model := testutil.SharedData(t, "fasttext/lid.176.ftz")
	docs := webText(t)[:400]
	var in strings.Builder
	for _, d := range docs {
		in.WriteString(strings.ReplaceAll(d.Text, "\n", " "))
		in.WriteByte('\n')
	}
	input := filepath.Join(t.TempDir(), "texts.txt")
	if err := os.WriteFile(input, []byte(in.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "predict-prob", model, input, "1").Output()
	if err != nil {
		t.Fatalf("fasttext predict-prob: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(docs) {
		t.Fatalf("fasttext printed %d lines for %d documents", len(lines), len(docs))
	}
	c := mustLoad(t, model, LoadOptions{})
	for i, d := range docs {
		f := strings.Fields(lines[i])
		want, _ := strconv.ParseFloat(f[1], 64)
		p := predictOne(t, c, d.Text)
		if got := "__label__" + c.Info().Labels[p.Top]; got != f[0] || math.Abs(p.Score-want) > 1e-5 {
			t.Errorf("document %d: %s %.6f, fastText says %s %.6f", i, got, p.Score, f[0], want)
		}
	}
}

// trainGraded trains a small fastText model on the bundled FineWeb-Edu
// sample with graded labels 0-4, feeding it texts normalized by norm.
func trainGraded(t *testing.T, norm normalize.Normalizer) *fasttext.Model {
	t.Helper()
	rd, err := shardio.Open(context.Background(), filepath.Join(testutil.RepoRoot(t), "data/fineweb-edu-llama3-sample/train.jsonl.zst"))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var b strings.Builder
	for {
		line, err := rd.Next()
		if err != nil {
			break
		}
		var row struct {
			Text   string `json:"text"`
			Scores struct {
				Score float64 `json:"score"`
			} `json:"scores"`
		}
		if err := json.Unmarshal(line, &row); err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(norm.Normalize(row.Text), "\n", " ")
		fmt.Fprintf(&b, "__label__%d %s\n", int(row.Scores.Score), text)
	}
	path := filepath.Join(t.TempDir(), "train.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	a := fasttext.DefaultArgs()
	a.Dim, a.Epoch, a.Thread, a.Bucket, a.LR = 16, 5, 1, 50000, 0.5
	m, err := fasttext.Train(context.Background(), path, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func writeModelDir(t *testing.T, m *fasttext.Model, n normalize.Spec) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "edu-ft")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.Save(filepath.Join(dir, "model.bin")); err != nil {
		t.Fatal(err)
	}
	if err := modeldir.Write(dir, &modeldir.Manifest{Kind: KindFastText, File: "model.bin", Labels: m.Labels(), Normalizer: n}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestModelDirAppliesItsNormalizer loads a model directory whose manifest
// records the whitespace normalizer: the classifier must normalize before
// predicting, score graded labels by their expected value, and refuse a
// manifest whose normalizer version this build does not produce.
func TestModelDirAppliesItsNormalizer(t *testing.T) {
	ws, err := normalize.New(normalize.Whitespace, normalize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := trainGraded(t, ws)
	dir := writeModelDir(t, m, normalize.Describe(ws))
	c := mustLoad(t, dir, LoadOptions{})
	info := c.Info()
	if info.Name != "edu-ft" || info.Normalizer.Name != normalize.Whitespace || info.Scoring.Mode != ScoreExpected {
		t.Fatalf("info %+v", info)
	}
	if info.Scoring.Min != 0 || info.Scoring.Max != 4 {
		t.Errorf("score range [%v, %v], want [0, 4]", info.Scoring.Min, info.Scoring.Max)
	}
	text := "  Photosynthesis   converts light\n\n into chemical energy.\tPlants use it.  "
	p := predictOne(t, c, text)
	direct := m.Predict(ws.Normalize(text), -1, 0)
	var sum, ev float64
	for _, d := range direct {
		v, _ := strconv.ParseFloat(strings.TrimPrefix(d.Label, "__label__"), 64)
		sum += float64(d.Prob)
		ev += v * float64(d.Prob)
		if got := p.Probs[d.ID]; got != d.Prob {
			t.Errorf("P(%s) = %v, the model on normalized text says %v", d.Label, got, d.Prob)
		}
	}
	if want := Round32(ev / sum); p.Score != want {
		t.Errorf("score %v, want expected value %v", p.Score, want)
	}
	if p.IntScore != int(math.RoundToEven(p.Score)) {
		t.Errorf("int score %d for score %v", p.IntScore, p.Score)
	}

	t.Run("version mismatch", func(t *testing.T) {
		n := normalize.Describe(ws)
		n.Version = "0-older"
		_, err := Load(context.Background(), writeModelDir(t, m, n), LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), "version 0-older") {
			t.Fatalf("err = %v, want a version mismatch", err)
		}
	})
	t.Run("conflicting --normalizer", func(t *testing.T) {
		_, err := Load(context.Background(), dir, LoadOptions{Normalizer: normalize.Potion})
		if err == nil || !strings.Contains(err.Error(), "trained with normalizer") {
			t.Fatalf("err = %v, want a refusal", err)
		}
	})
	t.Run("changed model file", func(t *testing.T) {
		_, err := Load(context.Background(), dir, LoadOptions{SHA256: strings.Repeat("0", 64)})
		if err == nil || !strings.Contains(err.Error(), "changed since") {
			t.Fatalf("err = %v, want a hash mismatch", err)
		}
	})
}

// TestTokenizerHashMismatch refuses a tokenizer other than the one the
// model was trained with.
func TestTokenizerHashMismatch(t *testing.T) {
	tok := filepath.Join(testutil.SharedData(t, "tokenizers/bert-base-uncased"), "tokenizer.json")
	n, err := normalize.New(normalize.Ultrafine, normalize.Options{Tokenizer: tok})
	if err != nil {
		t.Fatal(err)
	}
	m := trainGraded(t, n)
	rec := normalize.Describe(n)
	if rec.TokenizerHash == "" {
		t.Fatal("no tokenizer hash recorded")
	}
	c := mustLoad(t, writeModelDir(t, m, rec), LoadOptions{})
	if c.Info().Normalizer != rec {
		t.Errorf("normalizer %+v, want %+v", c.Info().Normalizer, rec)
	}
	rec.TokenizerHash = strings.Repeat("ab", 32)
	_, err = Load(context.Background(), writeModelDir(t, m, rec), LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("err = %v, want a tokenizer hash mismatch", err)
	}
}

func TestLoadDetection(t *testing.T) {
	src := testutil.Testdata(t, "fasttext/fasttext-net/softmax.bin")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("directory without manifest", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "ext-model")
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "model.ftz"), b, 0o644)
		c := mustLoad(t, dir, LoadOptions{Normalizer: normalize.Whitespace})
		if c.Info().Name != "ext-model" || c.Info().Normalizer.Name != normalize.Whitespace {
			t.Errorf("info %+v", c.Info())
		}
	})
	for name, content := range map[string][]byte{
		"notes.txt":  []byte("__label__pos hello\n"),
		"empty.bin":  nil,
		"broken.bin": b[:100],
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), name)
			os.WriteFile(p, content, 0o644)
			if _, err := Load(context.Background(), p, LoadOptions{}); err == nil || !strings.Contains(err.Error(), p) {
				t.Errorf("err = %v, want an error naming %s", err, p)
			}
		})
	}
	t.Run("model2vec directory", func(t *testing.T) {
		dir := testutil.SharedData(t, "model2vec/test-model-float32")
		if _, err := Load(context.Background(), dir, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "Model2Vec") {
			t.Errorf("err = %v, want a Model2Vec error", err)
		}
	})
	t.Run("unknown normalizer", func(t *testing.T) {
		if _, err := Load(context.Background(), src, LoadOptions{Normalizer: "nope"}); err == nil || !strings.Contains(err.Error(), "nope") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("unknown positive label", func(t *testing.T) {
		if _, err := Load(context.Background(), src, LoadOptions{PositiveLabel: "pos"}); err == nil || !strings.Contains(err.Error(), "greeting") {
			t.Errorf("err = %v, want the labels listed", err)
		}
	})
	t.Run("explicit positive label", func(t *testing.T) {
		c := mustLoad(t, src, LoadOptions{PositiveLabel: "food"})
		p := predictOne(t, c, "delicious pizza pasta and sweet cake")
		if j := indexOf(c.Info().Labels, "food"); p.Score != Round32(float64(p.Probs[j])) {
			t.Errorf("score %v, want P(food) %v", p.Score, p.Probs[j])
		}
	})
}

func TestScoring(t *testing.T) {
	cases := []struct {
		labels   []string
		positive string
		probs    []float32
		mode     string
		score    float64
		intScore int
	}{
		{[]string{"neg", "pos"}, "", []float32{0.25, 0.75}, ScorePositive, 0.75, 1},
		{[]string{"pos", "neg"}, "", []float32{0.5, 0.5}, ScorePositive, 0.5, 0},
		{[]string{"hq", "lq"}, "hq", []float32{0.9, 0.1}, ScorePositive, 0.9, 1},
		{[]string{"0", "1", "2", "3", "4", "5"}, "", []float32{0, 0, 0.5, 0.5, 0, 0}, ScoreExpected, 2.5, 2},
		{[]string{"3", "1", "2"}, "", []float32{0.5, 0, 0}, ScoreExpected, 3, 3},
		{[]string{"1", "5"}, "", []float32{0.5, 0.5}, ScoreExpected, 3, 3},
		{[]string{"0", "1"}, "", []float32{0.3, 0.7}, ScoreExpected, 0.7, 1},
		{[]string{"en", "fr", "de"}, "", []float32{0.1, 0.7, 0.2}, ScoreTop, 0.7, 1},
	}
	for _, c := range cases {
		s, err := NewScoring(c.labels, c.positive)
		if err != nil {
			t.Fatal(err)
		}
		p := Prediction{Probs: c.probs}
		s.Apply(&p)
		if s.Mode != c.mode || p.Score != Round32(c.score) || p.IntScore != c.intScore {
			t.Errorf("%v %v: %s score %v int %d, want %s %v %d", c.labels, c.probs, s.Mode, p.Score, p.IntScore, c.mode, c.score, c.intScore)
		}
	}
	s, _ := NewScoring([]string{"0", "5"}, "")
	for score, want := range map[float64]int{-1: 0, 0.5: 0, 1.5: 2, 4.49: 4, 7: 5} {
		if got := s.IntScore(score); got != want {
			t.Errorf("IntScore(%v) = %d, want %d", score, got, want)
		}
	}
	if _, err := NewScoring(nil, ""); err == nil {
		t.Error("no labels accepted")
	}
	// A binary model whose positive label is not "pos" must name it.
	if _, err := NewScoring([]string{"hq", "cc"}, ""); err == nil || !strings.Contains(err.Error(), "name the positive label") {
		t.Errorf("binary hq/cc without a positive label: %v", err)
	}
	if s, err := NewScoring([]string{"hq", "cc"}, "hq"); err != nil || s.Mode != ScorePositive || s.Positive != 0 {
		t.Errorf("hq/cc with hq positive: %+v %v", s, err)
	}
}

// TestConcurrentPredict shares one classifier between goroutines.
func TestConcurrentPredict(t *testing.T) {
	c := mustLoad(t, testutil.Testdata(t, "fasttext/fasttext-net/hs.bin"), LoadOptions{})
	texts := []string{"hello good morning how are you", "cold rain and snow with strong wind", "the software code runs on a fast computer", "delicious pizza pasta and sweet cake"}
	want := make([]Prediction, len(texts))
	if err := c.Predict(texts, want); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := make([]Prediction, len(texts))
			for r := 0; r < 200; r++ {
				if err := c.Predict(texts, out); err != nil {
					errs <- err.Error()
					return
				}
				for i := range out {
					if out[i].Score != want[i].Score || out[i].Top != want[i].Top {
						errs <- fmt.Sprintf("text %d: %+v, want %+v", i, out[i], want[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
