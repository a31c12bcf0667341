package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/winnowlabs/winnow/models/fasttext"
	"github.com/winnowlabs/winnow/models/modeldir"
	"github.com/winnowlabs/winnow/pipelines/train"
)

func init() {
	subcommands = append(subcommands, newTrainCmd, newTrainFastTextCmd, newEvalCmd, newEvalFastTextCmd)
}

// trainKindCommands makes, per model kind, the command that trains it;
// `winnow train --kind K` runs K's command with the remaining arguments.
var trainKindCommands = map[string]func() *cobra.Command{
	"fasttext": newTrainFastTextCmd,
}

func newTrainCmd() *cobra.Command {
	kinds := make([]string, 0, len(trainKindCommands))
	for k := range trainKindCommands {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return &cobra.Command{
		Use:   "train --kind KIND [KIND's flags]",
		Short: "Train a classifier of any kind (" + strings.Join(kinds, ", ") + ") into a model directory",
		Long: `train trains a text classifier of the given kind and writes a model directory
(manifest.json plus the model's files) that score, filter, eval and run load.
Each kind has its own flags: "winnow train --kind KIND --help" lists them. The
kinds are also commands of their own, with bonepick's names:

` + kindList(kinds),
		Example: `  winnow train --kind fasttext -d work/ft -o work/models/edu-ft --epoch 25`,
		// The kind's own command parses the flags.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, rest, err := kindArg(args)
			if err != nil {
				if helpErr := cmd.Help(); helpErr != nil || slices.Contains(args, "-h") || slices.Contains(args, "--help") {
					return helpErr
				}
				return err
			}
			mk, ok := trainKindCommands[kind]
			if !ok {
				return fmt.Errorf("unknown model kind %q (known: %s)", kind, strings.Join(kinds, ", "))
			}
			sub := mk()
			sub.SetArgs(rest)
			sub.SetOut(cmd.OutOrStdout())
			sub.SetErr(cmd.ErrOrStderr())
			sub.SilenceUsage, sub.SilenceErrors = true, true
			sub.Flags().AddFlagSet(cmd.InheritedFlags())
			sub.PersistentPreRunE = cmd.Root().PersistentPreRunE // --log-level
			return sub.ExecuteContext(cmd.Context())
		},
	}
}

func kindList(kinds []string) string {
	var b strings.Builder
	for _, k := range kinds {
		fmt.Fprintf(&b, "  %-12s winnow train-%s\n", k, k)
	}
	return b.String()
}

// kindArg takes --kind K or --kind=K out of args.
func kindArg(args []string) (kind string, rest []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--kind" && i+1 < len(args):
			return args[i+1], append(append(rest, args[:i]...), args[i+2:]...), nil
		case strings.HasPrefix(a, "--kind="):
			return strings.TrimPrefix(a, "--kind="), append(append(rest, args[:i]...), args[i+1:]...), nil
		case a == "-h" || a == "--help":
			return "", nil, fmt.Errorf("give --kind")
		}
	}
	return "", nil, fmt.Errorf("give the model kind with --kind")
}

func newTrainFastTextCmd() *cobra.Command {
	a := fasttext.ClassifierArgs()
	var (
		o       = train.Options{Kind: "fasttext"}
		loss    string
		verbose int
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
MODEL_DIR is local, built under a temporary name and renamed into place when
complete.

The defaults are bonepick's: dim 256, lr 0.1, wordNgrams 3, minCount 5,
epoch 3, bucket 2,000,000, ws 5, neg 5, loss softmax, seed 42, all cores.
Evaluate the result with "winnow eval".`,
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
			if verbose > 0 {
				pp := fasttext.ProgressPrinter(cmd.ErrOrStderr())
				o.FastText.Progress = func(p fasttext.Progress) {
					if verbose > 1 || p.Start || p.Done {
						pp(p)
					}
				}
			}
			o.FastText.Args = a
			return runTrain(cmd, o)
		},
	}
	f := cmd.Flags()
	bindTrainCommon(cmd, &o, "to-fasttext output directory (repeatable; train.txt files are concatenated)")
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
	return cmd
}

// bindTrainCommon registers the flags every training command shares.
func bindTrainCommon(cmd *cobra.Command, o *train.Options, dataHelp string) {
	f := cmd.Flags()
	f.StringArrayVarP(&o.Datasets, "dataset-dir", "d", nil, dataHelp)
	f.StringVarP(&o.Output, "output-dir", "o", "", "model directory to write (local)")
	_ = cmd.MarkFlagRequired("dataset-dir")
	_ = cmd.MarkFlagRequired("output-dir")
}

// runTrain trains the model o describes, logging to the command's error
// stream, and prints where it went.
func runTrain(cmd *cobra.Command, o train.Options) error {
	o.Log = cmd.ErrOrStderr()
	man, err := train.Train(cmd.Context(), o)
	if err != nil {
		return err
	}
	printTrained(cmd.OutOrStdout(), o.Output, man)
	return nil
}

// printTrained summarises a trained model directory.
func printTrained(w io.Writer, dir string, man *modeldir.Manifest) {
	fmt.Fprintf(w, "model: %s (%s)\n", filepath.Join(dir, man.File), man.Kind)
	if len(man.Labels) > 0 {
		labels, more := man.Labels, ""
		if len(labels) > 10 {
			labels, more = labels[:10], fmt.Sprintf(" and %d more", len(man.Labels)-10)
		}
		fmt.Fprintf(w, "labels: %s%s\n", strings.Join(labels, ", "), more)
	}
	if man.Range != nil {
		fmt.Fprintf(w, "regression range: %g to %g\n", man.Range[0], man.Range[1])
	}
	fmt.Fprintf(w, "training data fingerprint: %s\n", man.Fingerprint)
}

func newEvalCmd() *cobra.Command {
	return newEvalCommand("eval", "Evaluate a model directory of any kind on test data (sklearn-style report)")
}

func newEvalFastTextCmd() *cobra.Command {
	return newEvalCommand("eval-fasttext", "Evaluate a fastText model directory on to-fasttext test data (same as eval)")
}

func newEvalCommand(name, short string) *cobra.Command {
	var (
		o            train.EvalOptions
		fields       expressionFlags
		positiveFrom float64
	)
	cmd := &cobra.Command{
		Use:   name + " -d DATA_DIR [-d DATA_DIR ...] -m MODEL_DIR",
		Short: short,
		Long: name + ` evaluates the model of MODEL_DIR (written by any train command) on the
test split of the given datasets, and on their valid split where present, and
prints a scikit-learn style report: for a classifier per-class precision,
recall, F1 and support, accuracy, macro and weighted averages and ROC AUC
from the predicted probabilities; for a regressor MSE, MAE, R² and the
report of its rounded predictions; for a regressor or a contrastive ranker
the Spearman and Kendall correlations with the labels, and, for binary (or
--positive-from) labels, ROC AUC and the F1 at the best threshold. It saves
the results as
results_<fingerprint>.json in MODEL_DIR and records the metrics in its
manifest. Datasets are directories of JSON rows with train/, valid/ and test/
folders (text and label chosen by -t/-l or the expressions), or, for a
fastText model, to-fasttext directories (test.txt, valid.txt), whose text must
have been normalized with the model's normalizer. The model applies its own
normalizer to dataset rows. Data directories may be local or on gs:// or
s3://; MODEL_DIR is local.`,
		Example: `  winnow eval -d work/balanced -m work/models/edu-m2v
  winnow eval -d work/ft -m work/models/legal-ft`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Fields = train.Fields{TextExpression: fields.text(), LabelExpression: fields.label()}
			o.Log = cmd.ErrOrStderr()
			if cmd.Flags().Changed("positive-from") {
				o.PositiveFrom = &positiveFrom
			}
			res, err := train.Evaluate(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), res.Text())
			fmt.Fprintf(cmd.OutOrStdout(), "results saved to %s\n", res.File)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.Datasets, "dataset-dir", "d", nil, "dataset or to-fasttext directory (repeatable)")
	f.StringVarP(&o.ModelDir, "model-dir", "m", "", "model directory written by a train command")
	fields.bind(cmd, true, true)
	f.Float64Var(&positiveFrom, "positive-from", 0, "for regressors and rankers: labels of at least this value are positive in the ROC AUC and best-threshold F1 (default: binary labels only)")
	_ = cmd.MarkFlagRequired("dataset-dir")
	_ = cmd.MarkFlagRequired("model-dir")
	return cmd
}
