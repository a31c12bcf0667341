package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/models/fasttext"
	"github.com/winnowlabs/winnow/pipelines/filter"
	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/pipelines/prepare"
	"github.com/winnowlabs/winnow/pipelines/train"
	"github.com/winnowlabs/winnow/transforms/dataset"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardio"
	"github.com/winnowlabs/winnow/transforms/storage"
)

func init() {
	subcommands = append(subcommands, newRunCmd)
}

// runOptions configure the end-to-end job.
type runOptions struct {
	input, work     string
	labelExpression string
	normalization   string
	keepFraction    float64
	testSplit       float64
	seed            int64
	ft              fasttext.Args
}

func newRunCmd() *cobra.Command {
	o := runOptions{ft: fasttext.ClassifierArgs()}
	o.ft.Dim, o.ft.Epoch, o.ft.LR, o.ft.WordNgrams, o.ft.MinCount, o.ft.Bucket = 64, 25, 1.0, 2, 1, 500_000
	o.ft.Thread = 1
	cmd := &cobra.Command{
		Use:   "run [-i DATASET] [-w WORK_DIR]",
		Short: "The whole flow on an annotated dataset: prepare, train a fastText classifier, evaluate, filter",
		Long: `run chains the stages on an annotated dataset, by default the bundled FineWeb-Edu
sample (real rows scored 0-5 by Llama-3-70B-Instruct), FineWeb-Edu's recipe at
laptop scale, each stage a Beam pipeline on the chosen runner (prism locally):

  1. reshard    pool every row, shuffle, and split into train and test shards
  2. stats      rows, bytes and the score histogram per split
  3. transform  keep {id, text} and the annotated score as the label
  4. to-fasttext normalize the texts and write fastText training files
  5. train      a fastText classifier of the scores, natively
  6. evaluate   it on the held-out test split (classification report)
  7. filter     the test split with the classifier: keep the top
                --keep-fraction by expected score (FineWeb-Edu's score)
  8. compare    the annotated scores of the kept rows with all rows

Every output lands under --work-dir, one folder per stage.

A run is reproducible: --seed seeds every random choice, and the classifier
trains on one thread (fastText's multi-threaded Hogwild training depends on
timing), so the same inputs and options give the same model, byte for byte.
--thread N trains faster on N threads, but then runs differ. Running again
with nothing changed adds nothing: the steps rewrite the same files or skip
their finished shards, a model trained on the same data with the same
arguments is kept rather than trained again, and the filter resumes in the
same folder (named after the model's checksum).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runJob(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.input, "input-dir", "i", filepath.Join("data", "fineweb-edu-llama3-sample"), "annotated dataset")
	f.StringVarP(&o.work, "work-dir", "w", filepath.Join("work", "run"), "where every stage writes its output")
	f.StringVar(&o.labelExpression, "label-expression", ".scores.score", "jq expression selecting the annotated score")
	f.StringVarP(&o.normalization, "normalization", "n", "plsfix", "text normalizer for training and inference")
	floatVar(f, &o.keepFraction, "keep-fraction", "", 0.1, fraction, "fraction of the filtered split to keep")
	o.testSplit = 0.2
	f.Var(&splitSizeFlag{&o.testSplit}, "test-split", "held-out test split: a fraction or a row count")
	f.Int64VarP(&o.seed, "seed", "s", 42, "seed of every random choice (splitting, training, tie-breaking at the cut)")
	intVar(f, &o.ft.Dim, "dimension", "", o.ft.Dim, atLeastOne, "fastText vector size")
	intVar(f, &o.ft.Epoch, "epoch", "", o.ft.Epoch, atLeastOne, "fastText epochs")
	floatVar(f, &o.ft.LR, "learning-rate", "", o.ft.LR, positive, "fastText learning rate")
	intVar(f, &o.ft.WordNgrams, "word-ngrams", "", o.ft.WordNgrams, atLeastOne, "fastText word n-grams")
	intVar(f, &o.ft.Bucket, "bucket", "", o.ft.Bucket, nonNegative, "fastText hash buckets")
	intVar(f, &o.ft.Thread, "thread", "", o.ft.Thread, atLeastOne, "fastText training threads; more than 1 is faster but not reproducible")
	return cmd
}

func runJob(ctx context.Context, w io.Writer, o runOptions) error {
	start := time.Now()
	dir := func(name string) string { return storage.Join(o.work, name) }
	step := func(n int, what string) { fmt.Fprintf(w, "\n[%d/8] %s\n", n, what) }
	common := func(in, out string) mapstep.Common {
		return mapstep.Common{Inputs: []string{in}, Output: out, Quiet: true}
	}

	step(1, "reshard "+o.input+" into train and test")
	t := time.Now()
	imp, err := prepare.Reshard(ctx, prepare.ReshardOptions{Common: common(o.input, dir("split")), NumFiles: 4, TestSplit: o.testSplit, Seed: o.seed})
	if err != nil {
		return fmt.Errorf("reshard: %w", err)
	}
	printResult(w, "reshard", imp, time.Since(t), dir("split"))
	if imp.Submitted {
		return fmt.Errorf("run chains stages and needs each to finish: drop --async/--dry_run")
	}

	step(2, "stats")
	sum, _, err := prepare.Stats(ctx, prepare.StatsOptions{Inputs: []string{dir("split")}, LabelExpression: o.labelExpression, Quiet: true})
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	if err := writeStatsTable(w, sum); err != nil {
		return err
	}

	step(3, "transform: keep the text and the annotated score")
	t = time.Now()
	tr, err := prepare.Transform(ctx, prepare.TransformOptions{
		Common:        common(dir("split"), dir("labelled")),
		TransformArgs: rows.TransformArgs{TextTransform: "{id, text}", LabelTransform: "{score: " + o.labelExpression + "}"},
	})
	if err != nil {
		return fmt.Errorf("transform: %w", err)
	}
	printResult(w, "transform", tr, time.Since(t), dir("labelled"))

	step(4, "to-fasttext with the "+o.normalization+" normalizer")
	t = time.Now()
	ft, err := prepare.ToFastText(ctx, prepare.FastTextOptions{Common: common(dir("labelled"), dir("fasttext")), Normalization: o.normalization})
	if err != nil {
		return fmt.Errorf("to-fasttext: %w", err)
	}
	fmt.Fprintf(w, "to-fasttext: %d train and %d test lines in %s\n",
		ft.Report.Splits["train"].Rows, ft.Report.Splits["test"].Rows, time.Since(t).Round(time.Millisecond))

	step(5, "train a fastText classifier")
	t = time.Now()
	o.ft.Seed = int(o.seed)
	to := train.Options{Kind: models.KindFastText, Datasets: []string{dir("fasttext")}, Output: dir("model"), FastText: train.FastTextOptions{Args: o.ft}}
	man, err := train.Existing(ctx, to)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if man != nil {
		fmt.Fprintf(w, "%s is up to date (trained on the same data with the same arguments): kept\n", dir("model"))
	} else {
		var log strings.Builder
		to.Log = &log
		if man, err = train.Train(ctx, to); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		fmt.Fprintf(w, "trained %s in %s: labels %v, dim %d, epoch %d, wordNgrams %d, %d thread(s)\n",
			dir("model"), time.Since(t).Round(time.Millisecond), man.Labels, o.ft.Dim, o.ft.Epoch, o.ft.WordNgrams, o.ft.Thread)
		for _, line := range strings.Split(log.String(), "\n") {
			if strings.HasPrefix(line, "warning:") {
				fmt.Fprintln(w, line)
			}
		}
	}

	step(6, "evaluate")
	res, err := train.Evaluate(ctx, train.EvalOptions{Datasets: []string{dir("fasttext")}, ModelDir: dir("model")})
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	fmt.Fprint(w, res.Text())

	step(7, fmt.Sprintf("filter the held-out test split, keeping the top %g", o.keepFraction))
	t = time.Now()
	held := storage.Join(dir("labelled"), "test")
	fr, err := filter.Filter(ctx, filter.FilterOptions{
		ScoreOptions: filter.ScoreOptions{Common: common(held, dir("filtered")), Model: filter.ModelOptions{Path: dir("model")}},
		KeepFraction: o.keepFraction,
	})
	if err != nil {
		return fmt.Errorf("filter: %w", err)
	}
	fmt.Fprintf(w, "filter: kept %d of %d rows in %s (%s)\n", fr.Report.Kept, fr.Report.RowsIn, time.Since(t).Round(time.Millisecond), fr.Dir)
	printCut(w, fr.Report)

	step(8, "compare the annotated scores of the kept rows with all rows")
	all, err := meanScore(ctx, held)
	if err != nil {
		return err
	}
	kept, err := meanScore(ctx, fr.Dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "mean annotated score: all %d rows %.2f, kept %d rows %.2f; rows scored ≥3: all %.1f%%, kept %.1f%%\n",
		all.n, all.mean(), kept.n, kept.mean(), all.highShare(), kept.highShare())
	fmt.Fprintf(w, "\ndone in %s; outputs under %s\n", time.Since(start).Round(time.Second), o.work)
	return nil
}

type scoreStats struct {
	n, high int
	sum     float64
}

func (s scoreStats) mean() float64      { return s.sum / float64(max(s.n, 1)) }
func (s scoreStats) highShare() float64 { return 100 * float64(s.high) / float64(max(s.n, 1)) }

// meanScore reads the "score" of every row of the dataset at dir.
func meanScore(ctx context.Context, dir string) (scoreStats, error) {
	files, err := dataset.Discover(ctx, []string{dir}, dataset.Options{})
	if err != nil {
		return scoreStats{}, err
	}
	var s scoreStats
	for _, f := range files {
		r, err := shardio.Open(ctx, f.Path)
		if err != nil {
			return s, err
		}
		for {
			line, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				r.Close()
				return s, err
			}
			var row struct {
				Score float64 `json:"score"`
			}
			if err := json.Unmarshal(line, &row); err != nil {
				r.Close()
				return s, fmt.Errorf("%s:%d: %w", f.Path, r.Line(), err)
			}
			s.n++
			s.sum += row.Score
			if row.Score >= 3 {
				s.high++
			}
		}
		r.Close()
	}
	return s, nil
}
