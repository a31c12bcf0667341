package train

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winnowlabs/winnow/internal/testutil"
	"github.com/winnowlabs/winnow/internal/testutil/fakehub"
	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/models/head"
	"github.com/winnowlabs/winnow/models/modeldir"
	"github.com/winnowlabs/winnow/transforms/shardio"
)

// eduDataset writes a split dataset from the bundled FineWeb-Edu rows:
// train/ from the first nTrain rows of train.jsonl.zst, test/ from the
// first nTest rows of valid.jsonl.zst, each row {"text", "score",
// "label"} with label "pos" for a score of 3 or more.
func eduDataset(t testing.TB, nTrain, nTest int) string {
	t.Helper()
	root := testutil.RepoRoot(t)
	dir := t.TempDir()
	for split, src := range map[string]string{"train": "train.jsonl.zst", "test": "valid.jsonl.zst"} {
		n := nTrain
		if split == "test" {
			n = nTest
		}
		r, err := shardio.Open(context.Background(), filepath.Join(root, "data", "fineweb-edu-llama3-sample", src))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		for i := 0; i < n; i++ {
			line, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
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
			label := "neg"
			if row.Scores.Score >= 3 {
				label = "pos"
			}
			out, _ := json.Marshal(map[string]any{"text": row.Text, "score": row.Scores.Score, "label": label})
			b.Write(append(out, '\n'))
		}
		r.Close()
		os.MkdirAll(filepath.Join(dir, split), 0o755)
		if err := os.WriteFile(filepath.Join(dir, split, "part-0.jsonl"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func fixtureModel(t testing.TB, name string) string {
	return testutil.Testdata(t, filepath.Join("model2vec", name))
}

func staticOptions(t testing.TB, kind string, data string) Options {
	return Options{
		Kind: kind, Datasets: []string{data}, Output: filepath.Join(t.TempDir(), "model"),
		Static: StaticOptions{
			Fields: Fields{LabelExpression: ".label"}, Quiet: true,
			Head: head.Options{MaxEpochs: 6, Seed: 42, ClassWeight: head.Balanced},
		},
	}
}

// TestModel2VecFromScratch trains a table over a real tokenizer with the
// head, reloads the model as score loads it, and checks that it ranks the
// held-out rows better than chance and scores them deterministically.
func TestModel2VecFromScratch(t *testing.T) {
	ctx := context.Background()
	data := eduDataset(t, 600, 300)
	o := staticOptions(t, models.KindModel2Vec, data)
	o.Static.FromScratch, o.Static.Tokenizer, o.Static.Dim = true, filepath.Join(fixtureModel(t, "test-model-float32"), "tokenizer.json"), 16
	man, err := Train(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if man.Kind != models.KindModel2Vec || man.Task != modeldir.TaskClassification || strings.Join(man.Labels, ",") != "neg,pos" ||
		man.TokenizerHash == "" || len(man.Files) < 4 || man.Fingerprint == "" || man.TrainingArgs["mode"] != "finetune" {
		t.Fatalf("manifest %+v", man)
	}
	res, err := Evaluate(ctx, EvalOptions{Datasets: []string{data}, ModelDir: o.Output, Fields: Fields{LabelExpression: ".label"}})
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Splits[0].Report
	if rep == nil || rep.Samples != 300 || rep.AUC == nil || *rep.AUC < 0.6 {
		t.Fatalf("report %+v", rep)
	}
	// Training again with the same seed gives the same files.
	again := o
	again.Output = filepath.Join(t.TempDir(), "again")
	if _, err := Train(ctx, again); err != nil {
		t.Fatal(err)
	}
	for _, f := range man.Files {
		a, _ := os.ReadFile(filepath.Join(o.Output, f))
		b, _ := os.ReadFile(filepath.Join(again.Output, f))
		if len(a) == 0 || (!bytes.Equal(a, b) && f != head.MetaFile) {
			t.Errorf("%s differs between two trainings with one seed", f)
		}
	}
	c1, err := models.Load(ctx, o.Output, models.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := models.Load(ctx, again.Output, models.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c1.Info().SHA256 != c2.Info().SHA256 {
		t.Error("the two models' hashes differ")
	}
	texts := []string{"The mitochondria is the powerhouse of the cell.", "Buy cheap watches now!!!"}
	p1, p2 := make([]models.Prediction, 2), make([]models.Prediction, 2)
	if err := c1.Predict(texts, p1); err != nil {
		t.Fatal(err)
	}
	c2.Predict(texts, p2)
	for i := range p1 {
		if p1[i].Score != p2[i].Score || len(p1[i].Probs) != 2 {
			t.Errorf("text %d: %+v vs %+v", i, p1[i], p2[i])
		}
	}
}

// TestModel2VecFrozenRegressionAndContrastive trains on a base model's
// pooled rows: a regressor of the 0-5 scores and a contrastive ranker.
func TestModel2VecFrozenRegressionAndContrastive(t *testing.T) {
	ctx := context.Background()
	data := eduDataset(t, 400, 200)
	base := fixtureModel(t, "test-model-vocab-quantized")

	reg := staticOptions(t, models.KindModel2Vec, data)
	reg.Static.Base, reg.Static.Regression = base, true
	reg.Static.Fields.LabelExpression = ".score"
	reg.Static.Head.ClassWeight = ""
	man, err := Train(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	if man.Task != modeldir.TaskRegression || man.Range == nil || man.Range[0] != 0 || man.Labels != nil || man.Base == nil || man.TrainingArgs["mode"] != "frozen" {
		t.Fatalf("regression manifest %+v", man)
	}
	if _, err := os.Stat(reg.Output + ".features/_manifest.json"); err != nil {
		t.Errorf("no feature shards beside the model: %v", err)
	}
	c, err := models.Load(ctx, reg.Output, models.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Info().Scoring.Mode != models.ScoreValue {
		t.Errorf("scoring %+v", c.Info().Scoring)
	}
	three := 3.0
	res, err := Evaluate(ctx, EvalOptions{Datasets: []string{data}, ModelDir: reg.Output, Fields: Fields{LabelExpression: ".score"}, PositiveFrom: &three})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Splits[0]; s.Regression == nil || s.Regression.Rounded == nil || s.Ranking == nil || s.Ranking.AUC == nil ||
		s.Report == nil || s.ThresholdFrom != "test" || len(s.Report.Classes) != 2 {
		t.Fatalf("regression results %+v", s)
	}
	rank := staticOptions(t, models.KindContrastive, data)
	rank.Static.Base = base
	rank.Static.Fields.LabelExpression = ".score"
	rank.Static.Head.ClassWeight = ""
	rank.Static.Head.Clusters = 4
	man, err = Train(ctx, rank)
	if err != nil {
		t.Fatal(err)
	}
	if man.Kind != models.KindContrastive || man.Task != modeldir.TaskRanking {
		t.Fatalf("contrastive manifest %+v", man)
	}
	res, err = Evaluate(ctx, EvalOptions{Datasets: []string{data}, ModelDir: rank.Output, Fields: Fields{LabelExpression: ".score"}, PositiveFrom: &three})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Splits[0]; s.Regression != nil || s.Ranking == nil || s.Ranking.Spearman == nil || s.Ranking.BestF1 == nil {
		t.Fatalf("ranking results %+v", s)
	}
	if !strings.Contains(res.Text(), "pearman") {
		t.Errorf("text:\n%s", res.Text())
	}
}

func TestStaticBadInput(t *testing.T) {
	ctx := context.Background()
	data := eduDataset(t, 60, 20)
	base := fixtureModel(t, "test-model-vocab-quantized")
	cases := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no base", func(o *Options) { o.Static.Base = "" }, "no base model"},
		{"missing base", func(o *Options) { o.Static.Base = filepath.Join(t.TempDir(), "none") }, "none"},
		{"label expression", func(o *Options) { o.Static.Fields.LabelExpression = ".nope" }, "part-0.jsonl:1"},
		{"regression on text labels", func(o *Options) { o.Static.Regression = true }, `label "neg" is not a finite number`},
		{"one class", func(o *Options) { o.Static.Fields.LabelExpression = `"x"` }, "at least 2"},
		{"no train split", func(o *Options) { o.Datasets = []string{filepath.Join(data, "test")} }, "train"},
		{"contrastive fine-tuning", func(o *Options) { o.Kind = models.KindContrastive; o.Static.Finetune = true }, "do not apply"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := staticOptions(t, models.KindModel2Vec, data)
			o.Static.Base = base
			c.edit(&o)
			_, err := Train(ctx, o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if _, err := os.Stat(o.Output); !os.IsNotExist(err) {
				t.Errorf("a failed run left %s", o.Output)
			}
		})
	}
	// A test label the model never saw, and an unknown manifest kind.
	o := staticOptions(t, models.KindModel2Vec, data)
	o.Static.Base = base
	if _, err := Train(ctx, o); err != nil {
		t.Fatal(err)
	}
	odd := writeDataset(t, map[string][]string{"test": {`{"text":"a","label":"maybe"}`}})
	if _, err := Evaluate(ctx, EvalOptions{Datasets: []string{odd}, ModelDir: o.Output, Fields: Fields{LabelExpression: ".label"}}); err == nil || !strings.Contains(err.Error(), `"maybe" of row 1 was never seen`) {
		t.Errorf("unseen test label: %v", err)
	}
	man, _ := modeldir.Read(o.Output)
	man.Kind = "word2vec"
	modeldir.Write(o.Output, man)
	if _, err := models.Load(ctx, o.Output, models.LoadOptions{}); err == nil || !strings.Contains(err.Error(), `"word2vec"`) {
		t.Errorf("unknown kind: %v", err)
	}
}

// A base model given by its Hub name is fetched into the Hub cache and
// recorded by that name.
func TestModel2VecBaseFromHub(t *testing.T) {
	dir := fixtureModel(t, "test-model-vocab-quantized")
	files := map[string][]byte{}
	for _, name := range []string{"config.json", "model.safetensors", "tokenizer.json", "README.md"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	srv := fakehub.New(t)
	srv.Add("models", "minishlab/potion-test", files)
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	o := staticOptions(t, models.KindModel2Vec, eduDataset(t, 60, 20))
	o.Static.Base = "hf://minishlab/potion-test"
	o.Static.Head.MaxEpochs = 2
	man, err := Train(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	local, err := models.LoadEmbedder(context.Background(), dir, models.EmbedderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if man.Base == nil || man.Base.Path != "hf://minishlab/potion-test" || man.Base.SHA256 != local.Info().SHA256 {
		t.Errorf("base %+v, want the Hub name and the local copy's hash %s", man.Base, local.Info().SHA256)
	}
}
