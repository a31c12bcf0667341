package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/pipelines/prepare"
	"github.com/winnowlabs/winnow/pipelines/runner"
	"github.com/winnowlabs/winnow/transforms/progress"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/summary"
)

func init() {
	subcommands = append(subcommands, newImportCmd, newImportHFDatasetCmd, newSampleCmd, newTransformCmd, newBalanceCmd, newReshardCmd, newStatsCmd)
}

// bindCommon registers the flags every dataset-writing command shares.
func bindCommon(cmd *cobra.Command, c *mapstep.Common) {
	f := cmd.Flags()
	f.StringArrayVarP(&c.Inputs, "input-dir", "i", nil, "input dataset directory, glob or shard file (repeatable); local, gs://, s3:// or memfs://")
	f.StringVarP(&c.Output, "output-dir", "o", "", "output directory")
	f.StringVar(&c.Compression, "compression", "zst", "output shard compression: zst, gz or none")
	f.StringVar(&c.OnBadRow, "on-bad-row", "fail", "a malformed or incomplete row: fail (naming file and line) or skip (counted, written with its reason under _errors/)")
	intVar(f, &c.MaxBadRows, "max-bad-rows", "", 0, nonNegative, "with --on-bad-row=skip, fail once more than this many rows were skipped (0: no limit)")
	_ = cmd.MarkFlagRequired("input-dir")
	_ = cmd.MarkFlagRequired("output-dir")
}

// expressionFlags binds bonepick's text/label field and expression flags.
type expressionFlags struct {
	textField, labelField string
	textExpr, labelExpr   string
}

func (e *expressionFlags) bind(cmd *cobra.Command, text, label bool) {
	f := cmd.Flags()
	if text {
		f.StringVarP(&e.textField, "text-field", "t", "", "field holding the text (shorthand for --text-expression .FIELD)")
		f.StringVar(&e.textExpr, "text-expression", rows.DefaultTextExpression, "jq expression selecting the text")
	}
	if label {
		f.StringVarP(&e.labelField, "label-field", "l", "", "field holding the label (shorthand for --label-expression .FIELD)")
		f.StringVar(&e.labelExpr, "label-expression", rows.DefaultLabelExpression, "jq expression selecting the label")
	}
}

func (e *expressionFlags) text() string  { return rows.FieldExpression(e.textField, e.textExpr) }
func (e *expressionFlags) label() string { return rows.FieldExpression(e.labelField, e.labelExpr) }

func printResult(w io.Writer, name string, res *mapstep.Result, elapsed time.Duration, out string) {
	if res.Submitted {
		fmt.Fprintf(w, "%s: submitted to %s; %s gets its manifest when the job finishes\n", name, runner.Name(), out)
		return
	}
	t := res.Manifest.Totals
	fmt.Fprintf(w, "%s: %s rows in, %s out, %s bad; %s in, %s out; %d shards in %s (%s/s)\n",
		name, progress.Count(t.RowsIn), progress.Count(t.RowsOut), progress.Count(t.BadRows),
		progress.Bytes(t.BytesIn), progress.Bytes(t.BytesOut), len(res.Manifest.Outputs),
		elapsed.Round(time.Millisecond), progress.Bytes(int64(float64(t.BytesIn)/elapsed.Seconds())))
	splits := make([]string, 0, len(res.Manifest.Splits))
	for s := range res.Manifest.Splits {
		splits = append(splits, s)
	}
	sort.Strings(splits)
	if len(splits) > 1 || (len(splits) == 1 && splits[0] != "") {
		// Steps that shuffle rows across splits count input rows only in
		// the totals.
		perSplitInput := false
		for _, s := range splits {
			perSplitInput = perSplitInput || res.Manifest.Splits[s].RowsIn > 0
		}
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
		if perSplitInput {
			fmt.Fprintln(tw, "split\tfiles\trows in\trows out\tbad\tbytes out\t")
		} else {
			fmt.Fprintln(tw, "split\tfiles\trows\tbytes\t")
		}
		for _, s := range splits {
			c := res.Manifest.Splits[s]
			if perSplitInput {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\n", s, c.Files, progress.Count(c.RowsIn), progress.Count(c.RowsOut), progress.Count(c.BadRows), progress.Bytes(c.BytesOut))
			} else {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t\n", s, c.Files, progress.Count(c.RowsOut), progress.Bytes(c.BytesOut))
			}
		}
		tw.Flush()
	}
	if len(res.Counters) > 0 {
		fmt.Fprintf(w, "counters: %s\n", res.Counters)
	}
	fmt.Fprintf(w, "wrote %s (manifest: _manifest.json)\n", out)
}

// hubFlags are the flags that select a Hugging Face dataset.
type hubFlags struct {
	o prepare.HubImportOptions
}

// bind registers the flags; testShort is --test-split's shorthand ("" for
// none).
func (h *hubFlags) bind(cmd *cobra.Command, testShort string) {
	f := cmd.Flags()
	f.StringVar(&h.o.Revision, "revision", "", "Hub dataset: branch, tag or commit (default main)")
	f.StringVar(&h.o.Config, "config", "", "Hub dataset: configuration of its card (a subset), or a folder when the card has none")
	f.StringVar(&h.o.DataDir, "data-dir", "", "Hub dataset: folder whose files are read with the default split patterns")
	f.StringSliceVar(&h.o.Splits, "split", nil, "Hub dataset: splits to import, by the dataset's names (default all; repeatable)")
	f.VarP(&splitSizeFlag{&h.o.TestSplit}, "test-split", testShort, "test split size to carve from train: a fraction or a row count (required when the input has no test split)")
	f.Var(&splitSizeFlag{&h.o.ValidSplit}, "valid-split", "valid split size to carve from train: a fraction or a row count")
	cmd.MarkFlagsMutuallyExclusive("config", "data-dir")
}

// run imports the Hub dataset and reports what it read.
func (h *hubFlags) run(cmd *cobra.Command) error {
	start := time.Now()
	res, src, err := prepare.ImportHub(cmd.Context(), h.o)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	sel := src.Selection
	where := ""
	if sel.Config != "" {
		where += ", configuration " + sel.Config
	}
	if sel.Dir != "" {
		where += ", folder " + sel.Dir + "/"
	}
	var splits []string
	for _, sp := range sel.Splits {
		splits = append(splits, fmt.Sprintf("%s (%s)", sp.Name, nFiles(len(sp.Files))))
	}
	fmt.Fprintf(w, "hub: dataset %s at commit %s%s: %s; %s downloaded (%s), %d from the cache %s\n",
		h.o.Dataset, src.Snapshot.Commit, where, strings.Join(splits, ", "), nFiles(src.Snapshot.Fetched),
		progress.Bytes(src.Snapshot.FetchedBytes), len(src.Files)-src.Snapshot.Fetched, src.Snapshot.Dir)
	printResult(w, "import", res, time.Since(start), h.o.Output)
	return nil
}

func nFiles(n int) string {
	if n == 1 {
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
}

func newImportCmd() *cobra.Command {
	var h hubFlags
	o := &h.o.ImportOptions
	cmd := &cobra.Command{
		Use:   "import (-i DATASET_DIR | --hf-dataset OWNER/NAME) -o OUTPUT_DIR [--test-split F|N] [--valid-split F|N]",
		Short: "Import a Hugging Face dataset (from the Hub or a local directory, Parquet or JSONL) into train/valid/test shards",
		Long: `Import reads a dataset in Hugging Face layout: Parquet or JSON Lines files, in
split folders (train/, validation/, test/), with split-prefixed names
(train-00000-of-00002.parquet), or unsplit. Rows become JSON objects
(Parquet's strings, ints, floats, bools, lists, structs, maps and nulls) and are
written shuffled (seeded, deterministic) as train/, valid/ and test/ shards.
A missing test split, and optionally a valid split, is carved out of train:
--test-split and --valid-split take a fraction (0.1) or a row count (500).

With --hf-dataset OWNER/NAME the dataset comes from the Hugging Face Hub: its
data files are found as the datasets library finds them (the configurations of
the dataset card, --config; a folder, --data-dir; else the default split
patterns), downloaded in parallel into the Hugging Face cache (shared with
Python tools; resumed when interrupted; sizes and hashes checked), then
imported as a local directory is. A second run downloads nothing. The
environment: HF_TOKEN (gated and private datasets), HF_ENDPOINT (a mirror),
HF_HUB_CACHE or HF_HOME (the cache), HF_HUB_OFFLINE=1 (the cache only).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if h.o.Dataset != "" {
				return h.run(cmd)
			}
			for _, name := range []string{"revision", "config", "data-dir", "split"} {
				if cmd.Flags().Changed(name) {
					return fmt.Errorf("--%s goes with --hf-dataset", name)
				}
			}
			start := time.Now()
			res, err := prepare.Import(cmd.Context(), *o)
			if err != nil {
				return err
			}
			printResult(cmd.OutOrStdout(), "import", res, time.Since(start), o.Output)
			return nil
		},
	}
	bindCommon(cmd, &o.Common)
	// -i or --hf-dataset, not both.
	delete(cmd.Flags().Lookup("input-dir").Annotations, cobra.BashCompOneRequiredFlag)
	cmd.Flags().StringVar(&h.o.Dataset, "hf-dataset", "", "Hugging Face Hub dataset to import, OWNER/NAME (instead of -i)")
	cmd.MarkFlagsOneRequired("input-dir", "hf-dataset")
	cmd.MarkFlagsMutuallyExclusive("input-dir", "hf-dataset")
	h.bind(cmd, "")
	intVar(cmd.Flags(), &o.RowsPerFile, "batch-size", "b", 100_000, atLeastOne, "rows per output shard")
	cmd.Flags().Int64VarP(&o.Seed, "seed", "s", 42, "shuffle and split seed")
	return cmd
}

// newImportHFDatasetCmd is bonepick's import-hf-dataset, with its flags.
func newImportHFDatasetCmd() *cobra.Command {
	var h hubFlags
	o := &h.o.ImportOptions
	cmd := &cobra.Command{
		Use:   "import-hf-dataset -n OWNER/NAME -o OUTPUT_DIR [-s SUBSET] [-t F|N]",
		Short: "Import a dataset from the Hugging Face Hub (bonepick's command; winnow import --hf-dataset)",
		Long: `import-hf-dataset is bonepick's name for winnow import --hf-dataset, with its
flags: -n the dataset, -s its subset (configuration), -t the test split, -b the
rows per shard, -S the seed. See winnow import --help.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return h.run(cmd)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&h.o.Dataset, "name", "n", "", "Hugging Face Hub dataset, OWNER/NAME")
	f.StringVarP(&o.Output, "output-dir", "o", "", "output directory")
	f.StringVar(&o.Compression, "compression", "zst", "output shard compression: zst, gz or none")
	f.StringVar(&o.OnBadRow, "on-bad-row", "fail", "a malformed or incomplete row: fail (naming file and line) or skip (counted, written with its reason under _errors/)")
	f.Int64Var(&o.MaxBadRows, "max-bad-rows", 0, "with --on-bad-row=skip, fail once more than this many rows were skipped (0: no limit)")
	h.bind(cmd, "t")
	f.StringVarP(&h.o.Config, "subset", "s", "", "configuration of the dataset card (as --config)")
	intVar(f, &o.RowsPerFile, "batch-size", "b", 100_000, atLeastOne, "rows per output shard")
	f.Int64VarP(&o.Seed, "seed", "S", 42, "shuffle and split seed")
	cmd.MarkFlagsMutuallyExclusive("subset", "config", "data-dir")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("output-dir")
	return cmd
}

func newSampleCmd() *cobra.Command {
	var o prepare.SampleOptions
	cmd := &cobra.Command{
		Use:   "sample -i DIR -o DIR (--rate R | --target-size SIZE)",
		Short: "Sample a dataset to a rate or a target size, uniformly over every shard",
		Long: `Sample keeps a seeded random subset of every shard, drawn from the whole shard
(not its head), so that the written rows measure --rate of the input bytes, or
--target-size in total (500MB, 1GiB, ...; uncompressed bytes of the written rows).
Each shard's seed derives from --seed and the shard's path. With --target-size
the inputs are measured first and every shard keeps its proportional share,
chosen exactly rather than by coin flips. It prints the achieved rate and size.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			res, rep, err := prepare.Sample(cmd.Context(), o)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			printResult(w, "sample", res, time.Since(start), o.Output)
			if res.Submitted {
				return nil
			}
			fmt.Fprintf(w, "sampled %s of %s: target %s, achieved rate %.4f%% (requested %.4f%%), %+.2f%% off target\n",
				progress.Bytes(rep.WrittenBytes), progress.Bytes(rep.InputBytes), progress.Bytes(rep.TargetBytes),
				100*rep.AchievedRate, 100*rep.RequestedRate, rep.ErrorPercent)
			if rep.TargetBytes > rep.InputBytes {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: the target size %s is more than the input holds (%s of rows): every row was kept\n",
					progress.Bytes(rep.TargetBytes), progress.Bytes(rep.InputBytes))
			}
			return nil
		},
	}
	bindCommon(cmd, &o.Common)
	floatVar(cmd.Flags(), &o.Rate, "rate", "r", 0, fraction, "fraction of the input bytes to keep, in (0, 1]")
	cmd.Flags().Var(&sizeFlag{&o.TargetBytes}, "target-size", "total size to keep in uncompressed bytes: 500MB, 1GiB, ...")
	cmd.Flags().Int64VarP(&o.Seed, "seed", "s", 42, "random seed")
	cmd.MarkFlagsMutuallyExclusive("rate", "target-size")
	cmd.MarkFlagsOneRequired("rate", "target-size")
	return cmd
}

func newTransformCmd() *cobra.Command {
	var o prepare.TransformOptions
	cmd := &cobra.Command{
		Use:   "transform -i DIR -o DIR [-t JQ] [-l JQ] | --expression JQ",
		Short: "Rewrite rows with jq (binarize labels, rename fields, filter rows)",
		Long: `Transform rewrites every row with jq expressions (gojq). As in bonepick,
--text-transform (default '{text: .text}') and --label-transform (default
'{score: .score}') each map the row to an object and the output row is their
merge; e.g. binarize FineWeb-Edu scores with
  --label-transform '{score: (if .scores.score < 3 then "neg" else "pos" end)}'.
--expression instead maps the whole row to its replacement; an expression with
no output (e.g. select(.score > 2)) drops the row. Expressions compile once; a
runtime error names the file and line.

A field the row does not have is a bad row, not null: '{score: .score}' on a
row without "score" fails (or goes to _errors/ with --on-bad-row=skip). Where
a field may be absent, say what to use instead: '.score // null', '.score?',
'if has("score") then .score else "none" end'. Expressions may not read the
environment ($ENV, env).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			res, err := prepare.Transform(cmd.Context(), o)
			if err != nil {
				return err
			}
			printResult(cmd.OutOrStdout(), "transform", res, time.Since(start), o.Output)
			return nil
		},
	}
	bindCommon(cmd, &o.Common)
	cmd.Flags().StringVarP(&o.TextTransform, "text-transform", "t", "", "jq expression mapping a row to its text fields (default '{text: .text}')")
	cmd.Flags().StringVarP(&o.LabelTransform, "label-transform", "l", "", "jq expression mapping a row to its label fields (default '{score: .score}')")
	cmd.Flags().StringVarP(&o.Expression, "expression", "e", "", "jq expression mapping the whole row to its replacement; no output drops the row")
	return cmd
}

func newBalanceCmd() *cobra.Command {
	var o prepare.BalanceOptions
	var ex expressionFlags
	cmd := &cobra.Command{
		Use:   "balance -i DIR [-i DIR ...] -o DIR [-l FIELD | --label-expression JQ]",
		Short: "Downsample every label of each split to the rarest label's count, exactly",
		Long: `Balance pools one or more datasets split by split and keeps, for every label,
exactly as many rows as the split's rarest label has (not an approximate
Bernoulli draw). Rows keep all their fields. Label counts come from a measuring
pass merged by a Beam combiner; each label's quota is spread over the shards in
proportion to their counts and every shard keeps a seeded random subset.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.LabelExpression = ex.label()
			start := time.Now()
			res, rep, err := prepare.Balance(cmd.Context(), o)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			printResult(w, "balance", res, time.Since(start), o.Output)
			if !res.Submitted {
				printBalance(w, rep)
			}
			return nil
		},
	}
	bindCommon(cmd, &o.Common)
	ex.bind(cmd, false, true)
	cmd.Flags().Int64VarP(&o.Seed, "seed", "s", 42, "random seed")
	return cmd
}

func printBalance(w io.Writer, rep *prepare.BalanceReport) {
	splits := make([]string, 0, len(rep.Before))
	for s := range rep.Before {
		splits = append(splits, s)
	}
	sort.Strings(splits)
	for _, s := range splits {
		labels := make([]string, 0, len(rep.Before[s]))
		for l := range rep.Before[s] {
			labels = append(labels, l)
		}
		sort.Strings(labels)
		parts := make([]string, len(labels))
		for i, l := range labels {
			parts[i] = fmt.Sprintf("%s %s→%s", l, progress.Count(rep.Before[s][l]), progress.Count(rep.Target[s]))
		}
		name := s
		if name == "" {
			name = "(unsplit)"
		}
		fmt.Fprintf(w, "%s: %s\n", name, strings.Join(parts, ", "))
	}
}

func newReshardCmd() *cobra.Command {
	var o prepare.ReshardOptions
	cmd := &cobra.Command{
		Use:   "reshard -i DIR -o DIR -n FILES [--test-split F|N] [--valid-split F|N]",
		Short: "Rewrite a dataset as N near-equal shuffled shards, optionally re-splitting it",
		Long: `Reshard rewrites a dataset as --num-files shards whose row counts differ by at
most one within a split, shuffled with a seed. A dataset with splits keeps them
and shares the files out in proportion to their rows. With --test-split and/or
--valid-split (a fraction or a row count) all rows of every split are pooled and
split anew, as in bonepick: the rows of an existing valid/ (and test/) split
are pooled too, so with --test-split alone they end up in train/ and the output
has no valid/ split; give --valid-split as well to keep one. Each held-out split
gets round(max(1, files×rows/total)) files. Shards are named shard_N.jsonl.zst.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			res, err := prepare.Reshard(cmd.Context(), o)
			if err != nil {
				return err
			}
			printResult(cmd.OutOrStdout(), "reshard", res, time.Since(start), o.Output)
			return nil
		},
	}
	bindCommon(cmd, &o.Common)
	intVar(cmd.Flags(), &o.NumFiles, "num-files", "n", 0, atLeastOne, "number of output shards (across all splits)")
	cmd.Flags().Var(&splitSizeFlag{&o.TestSplit}, "test-split", "re-split: test size as a fraction or a row count")
	cmd.Flags().Var(&splitSizeFlag{&o.ValidSplit}, "valid-split", "re-split: valid size as a fraction or a row count")
	cmd.Flags().Int64VarP(&o.Seed, "seed", "s", 42, "shuffle and split seed")
	_ = cmd.MarkFlagRequired("num-files")
	return cmd
}

func newStatsCmd() *cobra.Command {
	var o prepare.StatsOptions
	var ex expressionFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats -i DIR [-i DIR ...] [--json]",
		Short: "Rows, bytes, label histogram and text-length quantiles per split",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.TextExpression, o.LabelExpression = ex.text(), ex.label()
			sum, _, err := prepare.Stats(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				return writeStatsJSON(cmd.OutOrStdout(), sum)
			}
			return writeStatsTable(cmd.OutOrStdout(), sum)
		},
	}
	cmd.Flags().StringArrayVarP(&o.Inputs, "input-dir", "i", nil, "input dataset directory, glob or shard file (repeatable)")
	cmd.Flags().StringVar(&o.Output, "output", "", "also write the statistics as JSON here (needed on remote runners)")
	cmd.Flags().StringVar(&o.OnBadRow, "on-bad-row", "fail", "fail or skip (skipped rows are counted)")
	cmd.Flags().BoolVar(&o.NoLabels, "no-labels", false, "do not read labels (unlabelled corpora)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	ex.bind(cmd, true, true)
	_ = cmd.MarkFlagRequired("input-dir")
	return cmd
}

var statQuantiles = []float64{0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99}

// SplitStats is one split in `stats --json`.
type SplitStats struct {
	Rows        int64              `json:"rows"`
	Bytes       int64              `json:"bytes"`
	Files       int64              `json:"files"`
	BadRows     int64              `json:"bad_rows,omitempty"`
	Labels      map[string]int64   `json:"labels,omitempty"`
	TextLengths map[string]float64 `json:"text_length_quantiles,omitempty"`
}

func splitStats(sp *summary.Split) (SplitStats, error) {
	st := SplitStats{Rows: sp.Rows, Bytes: sp.Bytes, Files: sp.Files, BadRows: sp.Bad, Labels: sp.Labels}
	if sp.TextLengths != nil && sp.TextLengths.Count() > 0 {
		qs, err := sp.TextLengths.Quantiles(statQuantiles)
		if err != nil {
			return st, err
		}
		st.TextLengths = map[string]float64{}
		for i, q := range statQuantiles {
			st.TextLengths[fmt.Sprintf("p%g", 100*q)] = qs[i]
		}
	}
	return st, nil
}

func writeStatsJSON(w io.Writer, sum *summary.Summary) error {
	out := map[string]SplitStats{}
	for name, sp := range sum.Splits {
		st, err := splitStats(sp)
		if err != nil {
			return err
		}
		if name == "" {
			name = "all"
		}
		out[name] = st
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeStatsTable(w io.Writer, sum *summary.Summary) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "split\tfiles\trows\tbytes\tbad\ttext length p1/p10/p50/p90/p99 (chars)")
	for _, name := range sum.SplitNames() {
		st, err := splitStats(sum.Splits[name])
		if err != nil {
			return err
		}
		q := st.TextLengths
		lens := "-"
		if q != nil {
			lens = fmt.Sprintf("%.0f / %.0f / %.0f / %.0f / %.0f", q["p1"], q["p10"], q["p50"], q["p90"], q["p99"])
		}
		label := name
		if label == "" {
			label = "(all)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", label, st.Files, progress.Count(st.Rows), progress.Bytes(st.Bytes), progress.Count(st.BadRows), lens)
	}
	tw.Flush()
	for _, name := range sum.SplitNames() {
		sp := sum.Splits[name]
		if len(sp.Labels) == 0 {
			continue
		}
		labels := make([]string, 0, len(sp.Labels))
		for l := range sp.Labels {
			labels = append(labels, l)
		}
		sort.Strings(labels)
		label := name
		if label == "" {
			label = "(all)"
		}
		fmt.Fprintf(w, "\nlabels in %s:\n", label)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
		for _, l := range labels {
			n := sp.Labels[l]
			fmt.Fprintf(tw, "  %s\t%s\t%.2f%%\t\n", l, progress.Count(n), 100*float64(n)/float64(sp.Rows))
		}
		tw.Flush()
	}
	return nil
}
