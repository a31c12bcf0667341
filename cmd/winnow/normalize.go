package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/pipelines/prepare"
	"github.com/winnowlabs/winnow/transforms/ftdata"
	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/progress"
	"github.com/winnowlabs/winnow/transforms/storage"
)

func init() {
	subcommands = append(subcommands, newNormalizeCmd, newToFastTextCmd)
}

// normalizerFlags binds -n/--normalization and --tokenizer.
func normalizerFlags(cmd *cobra.Command, name, tokenizer *string, def string) {
	f := cmd.Flags()
	f.StringVarP(name, "normalization", "n", def, "text normalizer: "+strings.Join(normalize.Names(), ", "))
	f.StringVar(tokenizer, "tokenizer", "", "tokenizer.json (Hugging Face) for the tokenizer-based normalizers: tokenizer, ultrafine, hyperfine, hyperfine-code")
}

func newNormalizeCmd() *cobra.Command {
	var o prepare.NormalizeOptions
	var ex expressionFlags
	cmd := &cobra.Command{
		Use:   "normalize -i DIR -o DIR [-n NORMALIZER] [-t FIELD | --text-expression JQ] [-l FIELD | --label-expression JQ]",
		Short: "Normalize every row's text with a normalizer and its label for fastText",
		Long: `Normalize writes the dataset with every text normalized (-n, default plsfix,
as bonepick) and every label normalized as fastText labels are: a leading
"__label__" stripped, whitespace runs made "_", lowercased ("Very Good" becomes
"very_good"). Number and boolean labels are kept as they are. Other fields are
kept. A text or label selected by a field (-t, -l, or an expression such as
.scores.score) is written back to that field; one computed by another jq
expression is written to "text" or "score". A missing text or label is a bad
row. The manifest records the normalizer's name and version.

Normalizers: whitespace (collapse whitespace), plsfix (repair mojibake and
encoding damage, as ftfy), potion and potion-code (Model2Vec's), and the
tokenizer-based tokenizer, ultrafine, hyperfine and hyperfine-code, which need
--tokenizer PATH/tokenizer.json (a local file every worker can read).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.TextExpression, o.LabelExpression = ex.text(), ex.label()
			start := time.Now()
			res, err := prepare.Normalize(cmd.Context(), o)
			if err != nil {
				return err
			}
			printResult(cmd.OutOrStdout(), "normalize", res, time.Since(start), o.Output)
			return nil
		},
	}
	bindCommon(cmd, &o.Common)
	ex.bind(cmd, true, true)
	normalizerFlags(cmd, &o.Normalization, &o.Tokenizer, normalize.Plsfix)
	return cmd
}

func newToFastTextCmd() *cobra.Command {
	var o prepare.FastTextOptions
	var ex expressionFlags
	cmd := &cobra.Command{
		Use:   "to-fasttext -i DIR [-i DIR ...] -o DIR [-n NORMALIZER] [-t FIELD | --text-expression JQ] [-l FIELD | --label-expression JQ] [--auto N | --multi-label]",
		Short: "Write a dataset as fastText training files (train.txt, valid.txt, test.txt)",
		Long: `To-fasttext writes a dataset with train/ and test/ splits (valid/ optional;
several -i are pooled split by split) as fastText's training files train.txt,
valid.txt (when there is a valid split) and test.txt, one line per row:

  __label__<label> <text>

Texts are cut to --max-length characters, then normalized (-n, default
whitespace, as bonepick); line breaks become spaces and a "__label__" inside a
text becomes "_label_", so that every line is one example with only its own
labels. Labels are normalized ("Very Good" becomes very_good).

--auto N replaces numeric labels by their bin (0 .. N-1) among N equal-count
bins made from all the training labels; valid and test use the training
edges. Equal values share a bin, so with few distinct values fewer bins may
result. --multi-label reads the label expression as an object
{criterion: bool}, e.g. --label-expression '{long: (.text|length > 2000),
edu: (.scores.score >= 2)}', and writes every true criterion as a label
(__label__none when none is).

report.json records the inputs, expressions, the normalizer's name and
version (a model trained on the files records it too), --max-length, the
--auto bin edges and per split the line count and label histogram;
_manifest.json counts rows in, lines out and bad rows. Each input shard is
converted on its own into _parts/; a killed run resumes there and a finished
one removes it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.TextExpression, o.LabelExpression = ex.text(), ex.label()
			start := time.Now()
			res, err := prepare.ToFastText(cmd.Context(), o)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			printResult(w, "to-fasttext", &mapstep.Result{Manifest: res.Manifest, Counters: res.Counters, Submitted: res.Submitted}, time.Since(start), o.Output)
			if !res.Submitted {
				printFastTextReport(w, res.Report, storage.Join(storage.Clean(o.Output), ftdata.ReportName))
			}
			return nil
		},
	}
	bindCommon(cmd, &o.Common)
	// fastText reads plain text only.
	f := cmd.Flags()
	_ = f.Set("compression", "none")
	f.Lookup("compression").DefValue = "none"
	_ = f.MarkHidden("compression")
	ex.bind(cmd, true, true)
	normalizerFlags(cmd, &o.Normalization, &o.Tokenizer, normalize.Whitespace)
	intVar(f, &o.MaxLength, "max-length", "", 0, nonNegative, "keep the first N characters of every text, before normalizing (0: all)")
	intVar(f, &o.Auto, "auto", "", 0, nonNegative, "bin numeric labels into N equal-count bins of the training labels; the labels become 0 .. N-1")
	f.BoolVar(&o.MultiLabel, "multi-label", false, "the label expression gives an object {criterion: bool}; write every true criterion as a label")
	cmd.MarkFlagsMutuallyExclusive("auto", "multi-label")
	return cmd
}

// printFastTextReport prints each split's labels and where the report is.
func printFastTextReport(w io.Writer, rep *ftdata.Report, path string) {
	for _, split := range []string{"train", "valid", "test"} {
		c, ok := rep.Splits[split]
		if !ok {
			continue
		}
		labels := make([]string, 0, len(c.Labels))
		for l := range c.Labels {
			labels = append(labels, l)
		}
		sort.Strings(labels)
		parts := make([]string, len(labels))
		for i, l := range labels {
			parts[i] = fmt.Sprintf("%s %s", l, progress.Count(c.Labels[l]))
		}
		fmt.Fprintf(w, "%s: %s lines; labels: %s\n", split, progress.Count(c.Rows), strings.Join(parts, ", "))
	}
	if len(rep.AutoBins) > 0 {
		fmt.Fprintf(w, "auto bins from the training labels: edges %v\n", rep.AutoBins)
	}
	fmt.Fprintf(w, "normalizer %s %s; report: %s\n", rep.Normalizer.Name, rep.Normalizer.Version, path)
}
