package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/winnowlabs/winnow/pipelines/filter"
	"github.com/winnowlabs/winnow/pipelines/filter/scoring"
	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/progress"
	"github.com/winnowlabs/winnow/transforms/storage"
)

func init() {
	subcommands = append(subcommands, newScoreCmd, newFilterCmd)
}

// scoreFlags binds the flags score and filter share.
func scoreFlags(cmd *cobra.Command, o *filter.ScoreOptions, ex *expressionFlags) {
	bindCommon(cmd, &o.Common)
	ex.bind(cmd, true, false)
	f := cmd.Flags()
	f.StringVarP(&o.Model.Path, "model", "m", "", "model directory (with manifest.json, or a Hugging Face BertForSequenceClassification directory) or fastText .bin/.ftz file; local, gs://, s3:// or hf://")
	f.StringVar(&o.Model.Name, "model-name", "", "name of the model in field names, attributes and the version directory (default: the model's base name)")
	f.StringVar(&o.Model.Normalizer, "normalizer", "", "normalizer of a model without manifest: "+strings.Join(normalize.Names(), ", ")+" (default "+normalize.Newlines+")"+"; a model directory uses its own")
	f.StringVar(&o.Model.Tokenizer, "tokenizer", "", "tokenizer.json of tokenizer-based normalizers (its SHA-256 must match the model's)")
	f.StringVar(&o.Model.PositiveLabel, "positive-label", "", `label whose probability is the score (default "pos" for a binary model)`)
	f.StringVar(&o.Model.Backend, "backend", "", "GoMLX backend of an encoder: go (the default), xla:cuda or xla:/abs/path/plugin.so")
	intVar(f, &o.Model.BatchSize, "batch-size", "", 0, nonNegative, "encoder: most texts per forward pass, at most 256 padded tokens each on average (default 32)")
	intVar(f, &o.Model.MaxLength, "max-length", "", 0, nonNegative, "encoder: truncate texts to this many tokens, [CLS] and [SEP] included (default: the model's maximum)")
	checkedStringVar(f, &o.Field, "field", "", scoring.CheckField, "field receiving the scores (default metadata.<model name>)")
	f.BoolVar(&o.AllLabels, "all-labels", false, "also write every label's probability")
	f.BoolVar(&o.NoVersionDir, "no-version-dir", false, "write into the output directory itself, not into <output>/<model>-<sha256[:12]>")
	f.BoolVar(&o.Incremental, "incremental", false, "process only input shards this model version has not done yet and add them to the manifest (scheduled re-filtering of a growing corpus)")
	_ = cmd.MarkFlagRequired("model")
}

const scoringHelp = `The score of a row is P(--positive-label) for a binary model ("pos" when the
model has it), the expected value for numeric labels (0-5, as FineWeb-Edu), and
otherwise the most probable label's probability (which is written as "label"
beside it, e.g. for lid.176.ftz). int_score is the score rounded half to even
and clipped to the label range, as FineWeb-Edu computes it. Scores go under
--field, default metadata.<model name>:
  {"score": 2.71, "int_score": 3, "label": "en", "probs": {...}}
("label" for top-label models only, "probs" with --all-labels).

The model is a directory written by train-fasttext (its manifest names the
normalizer, which is applied and checked) or any external fastText .bin/.ftz
file (DCLM's, Ultra-FineWeb's, lid.176), whose text is normalized by
--normalizer (default: newlines to spaces, what fastText's predict sees).

It may also be a BERT-family encoder: a Hugging Face
BertForSequenceClassification directory as it is (config.json,
model.safetensors, tokenizer.json; e.g. HuggingFaceFW/fineweb-edu-classifier)
or one written by "winnow train --kind encoder". A regression head writes
"score" (the raw output) and "int_score" (rounded, clipped to 0-5); a
multi-label head writes every label's probability and the top label. Texts
are truncated to the model's maximum length (--max-length lowers it), grouped
by token length into padded batches (--batch-size texts at most) and run on
the GoMLX backend given by --backend (go, or XLA with a PJRT plugin on GPUs).

Output goes to OUTPUT/<model>-<sha256[:12]>/ mirroring the input paths: one
shard per input shard, committed atomically with a completion marker whose
fingerprint covers the model's SHA-256, its normalizer and the selection. A
re-run (or a run after a crash) skips completed shards; a new model version
writes a new directory and leaves the old one intact. With --incremental only
shards without a completed output for this model version are read, so a
nightly job over a growing corpus does only new work.

Unless GOMEMLIMIT is set, the process keeps its heap near the model's size
plus 512 MiB and 32 MiB per worker (a soft limit), so memory stays flat.`

func newScoreCmd() *cobra.Command {
	var o filter.ScoreOptions
	var ex expressionFlags
	cmd := &cobra.Command{
		Use:     "score -i DIR -o DIR -m MODEL [--attributes-only]",
		Aliases: []string{"infer-fasttext"},
		Short:   "Score every row with a classifier (bonepick's infer-fasttext)",
		Long: `Score classifies every row's text and adds the scores to the row, keeping every
row and every other byte of it.

` + scoringHelp + `

--attributes-only writes dolma-style attribute shards instead, at the input
shards' relative paths, one record per document in input order:
  {"id": ID, "attributes": {"<model>__score": [[0, N, score]],
                            "<model>__int_score": [[0, N, int_score]],
                            "<model>__<label>": [[0, N, p]], ...}}
where N is the text's length in characters and ID comes from --id-expression;
"<model>__<label>" is written for every label with --all-labels, else only for
the most probable label of a top-label model.`,
		Example: `  winnow score -i corpus/ -o work/scored -m work/models/edu
  winnow infer-fasttext -i corpus/ -o work/lid -m lid.176.ftz --all-labels
  winnow score -i gs://b/docs -o gs://b/attributes -m gs://b/models/dclm.bin --attributes-only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.TextExpression = ex.text()
			start := time.Now()
			res, err := filter.Score(cmd.Context(), o)
			if err != nil {
				return err
			}
			printFilterResult(cmd.OutOrStdout(), "score", res, time.Since(start))
			return nil
		},
	}
	scoreFlags(cmd, &o, &ex)
	cmd.Flags().BoolVar(&o.Attributes, "attributes-only", false, "write dolma-style attribute records mirroring the inputs instead of the scored rows")
	cmd.Flags().StringVar(&o.IDExpression, "id-expression", ".id", "jq expression selecting the document id of attribute records")
	return cmd
}

func newFilterCmd() *cobra.Command {
	var o filter.FilterOptions
	var ex expressionFlags
	var threshold float64
	var intThreshold int
	cmd := &cobra.Command{
		Use:   "filter -i DIR -o DIR -m MODEL (--threshold T | --int-threshold N | --keep-fraction F | --expression JQ | --pareto ALPHA)",
		Short: "Score every row and keep those that pass a threshold, a top fraction, a jq rule or Pareto sampling",
		Long: `Filter scores every row (as score does) and keeps the rows that one rule accepts:

  --threshold T       score >= T
  --int-threshold N   int_score >= N
  --keep-fraction F   the global top F of all rows by score: the scores of every
                      shard are sketched (DDSketch), merged by a Beam combiner
                      and cut so that F of the rows are kept (ties at the cut are
                      broken by seeded coin flips: exact in expectation)
  --expression JQ     jq on the scored row; kept when its first output is neither
                      false nor null, e.g. '.metadata.edu.score > 2.5 and (.text | length) > 500'
  --pareto ALPHA      keep when a Pareto(ALPHA) draw exceeds 1 - score, as GPT-3
                      and NeMo Curator do (numpy.random.pareto(ALPHA) > 1 - score,
                      score scaled to [0, 1]); seeded by --seed and each row's
                      content, so reproducible whatever the parallelism

Kept rows carry their scores. --rejected-dir receives the dropped rows as read
(under the same version directory name). Kept and total rows are reported per
shard and in total, and stored in the manifest.

With --keep-fraction the classifier still runs once: the rows are first scored
into OUTPUT/<version>/_scored/, the sketch is read from the written scores, and
the selection reads the scored shards, so a new fraction re-runs only the cheap
stages. --keep-fraction cannot be --incremental: the cut moves as the corpus
grows; filter new shards with --threshold at the reported cut instead.

` + scoringHelp,
		Example: `  winnow filter -i corpus/ -o work/filtered -m work/models/edu --int-threshold 3
  winnow filter -i corpus/ -o work/filtered -m work/models/edu --keep-fraction 0.1 --rejected-dir work/rejected
  winnow filter -i gs://b/crawl -o gs://b/filtered -m gs://b/models/dclm.bin --positive-label hq --threshold 0.018 --incremental`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.TextExpression = ex.text()
			if cmd.Flags().Changed("threshold") {
				o.Threshold = &threshold
			}
			if cmd.Flags().Changed("int-threshold") {
				o.IntThreshold = &intThreshold
			}
			if o.KeepFraction != 0 && o.Incremental {
				return fmt.Errorf("--keep-fraction is global, so its threshold moves as the corpus grows and --incremental cannot keep earlier shards as they are; " +
					"filter new shards with --threshold set to the cut an earlier --keep-fraction run reported")
			}
			start := time.Now()
			res, err := filter.Filter(cmd.Context(), o)
			if err != nil {
				return err
			}
			printFilterResult(cmd.OutOrStdout(), "filter", res, time.Since(start))
			return nil
		},
	}
	scoreFlags(cmd, &o.ScoreOptions, &ex)
	f := cmd.Flags()
	floatVar(f, &threshold, "threshold", "", 0, anyNumber, "keep rows whose score is at least this")
	f.IntVar(&intThreshold, "int-threshold", 0, "keep rows whose int_score is at least this")
	floatVar(f, &o.KeepFraction, "keep-fraction", "", 0, fraction, "keep this global top fraction of the rows by score, in (0, 1]")
	f.StringVarP(&o.Expression, "expression", "e", "", "keep rows for which this jq expression on the scored row is true")
	floatVar(f, &o.Pareto, "pareto", "", 0, positive, "keep rows by Pareto sampling with this shape (GPT-3, NeMo Curator: 9)")
	f.Int64VarP(&o.Seed, "seed", "s", 42, "seed of --pareto and of tie-breaking at the --keep-fraction cut")
	f.StringVar(&o.RejectedDir, "rejected-dir", "", "write the dropped rows here")
	cmd.MarkFlagsMutuallyExclusive("threshold", "int-threshold", "keep-fraction", "expression", "pareto")
	cmd.MarkFlagsOneRequired("threshold", "int-threshold", "keep-fraction", "expression", "pareto")
	return cmd
}

// maxShardLines bounds the per-shard table printed after a run; the
// manifest's report holds every shard.
const maxShardLines = 50

func printFilterResult(w io.Writer, name string, res *filter.Result, elapsed time.Duration) {
	printResult(w, name, res.Result, elapsed, res.Dir)
	r := res.Report
	if r == nil {
		return
	}
	m := r.Model
	norm := "none"
	if m.Normalizer.Name != "" {
		norm = m.Normalizer.Name + " " + m.Normalizer.Version
	}
	fmt.Fprintf(w, "model %s (%s, sha256 %s, normalizer %s, score: %s)\n",
		m.Name, m.Kind, m.Version(), norm, m.Scoring.Describe(m.Labels))
	printCut(w, r)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "shard\trows\tkept\tkept %\tbad\t")
	for i, s := range r.Shards {
		if i == maxShardLines {
			fmt.Fprintf(tw, "… %d more shards (see _manifest.json)\t\t\t\t\t\n", len(r.Shards)-maxShardLines)
			break
		}
		rel, err := storage.Rel(res.Dir, s.Output)
		if err != nil {
			rel = s.Output
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", rel, progress.Count(s.RowsIn), progress.Count(s.Kept), percent(s.Kept, s.RowsIn-s.Bad), progress.Count(s.Bad))
	}
	fmt.Fprintf(tw, "total\t%s\t%s\t%s\t%s\t\n", progress.Count(r.RowsIn), progress.Count(r.Kept), percent(r.Kept, r.RowsIn-r.Bad), progress.Count(r.Bad))
	tw.Flush()
}

// printCut describes a keep-fraction run's cut with the counts of its
// manifest, and warns when scores too close to tell apart decided much of
// the selection.
func printCut(w io.Writer, r *filter.Report) {
	c := r.Cut
	if c == nil {
		return
	}
	if c.KeepNone {
		fmt.Fprintf(w, "keep fraction %g of %s scored rows: nothing to keep\n", r.KeepFraction, progress.Count(c.Total))
		return
	}
	atCut := r.Kept - c.Above
	how := ""
	if atCut > 0 && atCut < c.InBucket {
		how = " (by seeded coin flips)"
	}
	fmt.Fprintf(w, "keep fraction %g of %s scored rows (target %s): cut at score %.6g–%.6g; kept %s, all %s above the cut and %s of the %s at it%s\n",
		r.KeepFraction, progress.Count(c.Total), progress.Count(c.Target), c.Low, c.High, progress.Count(r.Kept),
		progress.Count(c.Above), progress.Count(atCut), progress.Count(c.InBucket), how)
	if c.Tied() {
		fmt.Fprintf(w, "warning: %s rows (%.1f%% of the scored rows) have scores within %.6g–%.6g, too close to tell apart, so chance rather than the model chose %s of the %s kept rows; the classifier barely separates these rows\n",
			progress.Count(c.InBucket), 100*float64(c.InBucket)/float64(max(c.Total, 1)), c.Low, c.High,
			progress.Count(r.Kept-c.Above), progress.Count(r.Kept))
	}
}

func percent(n, of int64) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", 100*float64(n)/float64(of))
}
