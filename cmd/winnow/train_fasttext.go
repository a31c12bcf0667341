package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/winnowlabs/winnow/models/fasttext"
	"github.com/winnowlabs/winnow/models/fasttext/traineval"
)

func init() {
	subcommands = append(subcommands, newTrainFastTextCmd, newEvalFastTextCmd)
}

func newTrainFastTextCmd() *cobra.Command {
	a := traineval.DefaultArgs()
	var (
		datasets []string
		output   string
		loss     string
		verbose  int
	)
	cmd := &cobra.Command{
		Use:   "train-fasttext -d DATA_DIR [-d DATA_DIR ...] -o MODEL_DIR",
		Short: "Train a fastText classifier on to-fasttext output into a model directory",
		Long: `train-fasttext trains a supervised fastText classifier (natively, no fastText
binary needed) on the train.txt files of one or more directories written by
"winnow to-fasttext" (several -d are concatenated) and writes MODEL_DIR with
model.bin (fastText's format) and manifest.json: labels, the text normalizer
recorded by to-fasttext (all -d must agree), the training arguments and a
SHA-256 fingerprint of the training data. Data directories may be local or on
gs:// or s3:// (their training files are copied to one local file first);
MODEL_DIR is local.

The defaults are bonepick's: dim 256, lr 0.1, wordNgrams 3, minCount 5,
epoch 3, bucket 2,000,000, ws 5, neg 5, loss softmax, seed 42, all cores.
Evaluate the result with "winnow eval-fasttext".`,
		Example: `  winnow to-fasttext ... -o work/ft
  winnow train-fasttext -d work/ft -o work/models/legal-ft
  winnow train-fasttext -d work/a -d work/b -o work/models/ab --epoch 5 --thread 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := fasttext.ParseLoss(loss)
			if err != nil {
				return err
			}
			a.Loss = l
			var progress fasttext.ProgressFunc
			if verbose > 0 {
				pp := fasttext.ProgressPrinter(cmd.ErrOrStderr())
				progress = func(p fasttext.Progress) {
					if verbose > 1 || p.Start || p.Done {
						pp(p)
					}
				}
			}
			man, err := traineval.Train(cmd.Context(), traineval.TrainOptions{
				Datasets: datasets, Output: output, Args: a, Progress: progress, Log: cmd.ErrOrStderr(),
			})
			if err != nil {
				return err
			}
			labels := man.Labels
			more := ""
			if len(labels) > 10 {
				labels, more = labels[:10], fmt.Sprintf(" and %d more", len(man.Labels)-10)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "model: %s\nlabels: %s%s\ntraining data fingerprint: %s\n",
				filepath.Join(output, man.File), strings.Join(labels, ", "), more, man.Fingerprint)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&datasets, "dataset-dir", "d", nil, "to-fasttext output directory (repeatable; train.txt files are concatenated)")
	f.StringVarP(&output, "output-dir", "o", "", "model directory to write")
	intVar(f, &a.Dim, "dimension", "", a.Dim, atLeastOne, "size of the word vectors (fastText -dim)")
	floatVar(f, &a.LR, "learning-rate", "", a.LR, positive, "learning rate (fastText -lr)")
	intVar(f, &a.WordNgrams, "word-ngrams", "", a.WordNgrams, atLeastOne, "max length of word n-grams (fastText -wordNgrams)")
	intVar(f, &a.MinCount, "min-count", "", a.MinCount, atLeastOne, "minimal number of word occurrences (fastText -minCount)")
	intVar(f, &a.Epoch, "epoch", "", a.Epoch, atLeastOne, "number of epochs")
	intVar(f, &a.Bucket, "bucket", "", a.Bucket, nonNegative, "number of hash buckets for n-grams")
	intVar(f, &a.Minn, "min-char-ngram", "", a.Minn, nonNegative, "min length of character n-grams (fastText -minn)")
	intVar(f, &a.Maxn, "max-char-ngram", "", a.Maxn, nonNegative, "max length of character n-grams, 0 for none (fastText -maxn)")
	intVar(f, &a.WS, "window-size", "", a.WS, atLeastOne, "context window size (fastText -ws; unused by supervised training)")
	intVar(f, &a.Neg, "num-negatives", "", a.Neg, atLeastOne, "negatives sampled per example with loss ns (fastText -neg)")
	f.StringVar(&loss, "loss", "softmax", "loss: softmax, hs, ns or ova")
	intVar(f, &a.Thread, "thread", "", a.Thread, atLeastOne, "training threads (1 makes training deterministic)")
	f.IntVar(&a.Seed, "seed", a.Seed, "random seed")
	f.StringVar(&a.PretrainedVectors, "pretrained-vectors", "", "word vectors (.vec) to initialise the input matrix")
	f.IntVar(&verbose, "verbose", 2, "0 quiet, 1 summary, 2 progress line")
	_ = cmd.MarkFlagRequired("dataset-dir")
	_ = cmd.MarkFlagRequired("output-dir")
	return cmd
}

func newEvalFastTextCmd() *cobra.Command {
	var (
		datasets []string
		modelDir string
	)
	cmd := &cobra.Command{
		Use:   "eval-fasttext -d DATA_DIR [-d DATA_DIR ...] -m MODEL_DIR",
		Short: "Evaluate a fastText model directory on to-fasttext test data",
		Long: `eval-fasttext evaluates the model of MODEL_DIR (written by train-fasttext) on
the test.txt files of the given to-fasttext directories, and on their
valid.txt files where present. It prints fastText's test lines (N, P@1, R@1)
and a scikit-learn style classification report (per-class precision, recall,
F1 and support, accuracy, macro and weighted averages, ROC AUC from the
predicted probabilities), saves them as results_<fingerprint>.json in
MODEL_DIR and records the metrics in its manifest. The data must have been
normalized with the model's normalizer; a mismatch is refused. Data
directories may be local or on gs:// or s3://; MODEL_DIR is local.`,
		Example: `  winnow eval-fasttext -d work/ft -m work/models/legal-ft`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := traineval.Evaluate(cmd.Context(), traineval.EvalOptions{Datasets: datasets, ModelDir: modelDir})
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), res.Text())
			fmt.Fprintf(cmd.OutOrStdout(), "results saved to %s\n", res.File)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&datasets, "dataset-dir", "d", nil, "to-fasttext output directory (repeatable)")
	f.StringVarP(&modelDir, "model-dir", "m", "", "model directory written by train-fasttext")
	_ = cmd.MarkFlagRequired("dataset-dir")
	_ = cmd.MarkFlagRequired("model-dir")
	return cmd
}
