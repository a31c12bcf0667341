package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/winnowlabs/winnow/examples"
	"github.com/winnowlabs/winnow/pipelines/flow"
)

func init() {
	subcommands = append(subcommands, newRunCmd, newReportCmd)
}

func newRunCmd() *cobra.Command {
	var (
		o          flow.Options
		experiment string
	)
	cmd := &cobra.Command{
		Use:   "run [FLOW.yaml]",
		Short: "Run a flow: sample, annotate, label, split, train and compare classifiers, filter the corpus, report",
		Long: `run runs the experiment a flow file describes, step by step, each step a Beam
pipeline on the chosen runner (prism locally) or a training:

  sample     draw the annotation sample from the pool (sample:)
  annotate   label it with an LLM (annotate:), or read existing labels (label:)
  agreement  the LLM's labels against labels the rows have (annotate.existing_label)
  label      select the text and the label, transform the label (jq)
  balance    as many rows of every label as of the rarest (balance:)
  split      shuffle into train, test (and valid) splits (split:)
  train-NAME train and evaluate each classifier (classifiers:)
  select     the best classifier by a metric, or the one named (select:)
  filter     score the corpus and keep rows (filter:)

Without FLOW.yaml it runs the bundled flow (examples/bundled.yaml): the
bundled FineWeb-Edu sample's Llama-3 labels, fastText and a Model2Vec head
trained and compared, the corpus filtered to its top 10%. Run it from the
repository's root.

Every step writes under the experiment directory in a folder named after it
and a fingerprint of its work (its options, the steps it reads, its inputs,
the code version) and is skipped once complete: editing one option reruns
only what depends on it, a killed run resumes, and a second run with
nothing changed does nothing. The flow file is checked before anything
runs (unknown keys, wrong types, missing inputs: errors name the line).
Every run writes report.html and report.json in the experiment directory.`,
		Example: `  winnow run
  winnow run examples/finemath.yaml --dry-run
  winnow run my-flow.yaml --until split
  winnow run my-flow.yaml --force train-fasttext`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var spec *flow.Spec
			var err error
			if len(args) == 1 {
				spec, err = flow.Load(args[0])
			} else {
				var b []byte
				if b, err = examples.Files.ReadFile(examples.Bundled); err == nil {
					spec, err = flow.Parse("examples/"+examples.Bundled, b)
				}
			}
			if err != nil {
				return err
			}
			if experiment != "" {
				spec.Experiment = experiment
			}
			o.Out = cmd.OutOrStdout()
			o.Progress = cmd.ErrOrStderr()
			res, err := flow.Run(cmd.Context(), spec, o)
			if err != nil {
				return err
			}
			if res.Report != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "report: %s\n", res.Report)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.DryRun, "dry-run", false, "print the plan, with which steps would run and why, and run nothing")
	f.StringVar(&o.Until, "until", "", "stop after this step (a name such as split or train-fasttext, or a kind such as train)")
	f.StringArrayVar(&o.Force, "force", nil, "rerun this step even if complete, and the steps after it that read it (repeatable)")
	f.StringVarP(&experiment, "experiment", "w", "", "experiment directory (default: the flow's experiment:)")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress lines")
	return cmd
}

func newReportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "report EXPERIMENT_DIR",
		Short: "Write report.html and report.json of a flow's experiment directory",
		Long: `report writes the report of the latest flow run in EXPERIMENT_DIR again (every
flow run writes it too): report.html, one self-contained page (charts as
inline SVG; it opens offline and fetches nothing), and report.json with the
same numbers: the annotation's label histogram, cost and tokens, its
agreement with existing labels (kappas, MAE, Spearman, confusion), the labels
per split, each classifier's classification report, confusion matrix, ROC,
precision-recall and calibration curves (a regressor's predicted against
true values), the selection, the score distribution over the corpus with the
cut and the kept fraction per shard, and each step's time, rows/s and cores
busy.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := flow.WriteReport(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "report: %s\n", path)
			return nil
		},
	}
}
