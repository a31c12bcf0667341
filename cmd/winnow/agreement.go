package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/winnowlabs/winnow/pipelines/annotate"
	"github.com/winnowlabs/winnow/pipelines/runner"
	"github.com/winnowlabs/winnow/transforms/progress"
)

func newAgreementCmd() *cobra.Command {
	var o annotate.AgreementOptions
	var ex expressionFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "agreement -a DIR -b DIR [--key-expression JQ] [-l FIELD | --label-expression JQ] [--json]",
		Short: "Agreement between two annotation sets: coverage, kappa, quadratic-weighted kappa, MAE, Spearman, confusion",
		Long: `Agreement joins two annotation sets (two models, two prompts, a model and people)
on a key (--key-expression, default .id) with a Beam CoGroupByKey and reports the
coverage of the join, exact agreement, Cohen's kappa, quadratic-weighted kappa,
mean absolute error, Spearman's rank correlation and the confusion matrix.
Labels are read with --label-expression in both sets, or with
--label-expression-a and --label-expression-b when the sets differ, e.g.
  -a out/gpt -b out/llama --label-expression-a '.["fineweb-edu"].score' --label-expression-b .scores.score
The numeric statistics are computed when every label is a number. A key found
twice in one set is an error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.LabelExpression = ex.label()
			rep, err := annotate.Agreement(cmd.Context(), o)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if rep.Submitted {
				fmt.Fprintf(w, "agreement: submitted to %s; the report goes to %s when the job finishes\n", runner.Name(), o.Output)
				return nil
			}
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			fmt.Fprintf(w, "rows: A %s (%s bad), B %s (%s bad)\n", progress.Count(rep.RowsA), progress.Count(rep.BadRowsA),
				progress.Count(rep.RowsB), progress.Count(rep.BadRowsB))
			fmt.Fprint(w, rep.Report.String())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.A, "a", "a", nil, "first annotation set: dataset directory, glob or shard file (repeatable)")
	f.StringArrayVarP(&o.B, "b", "b", nil, "second annotation set (repeatable)")
	f.StringVar(&o.KeyExpression, "key-expression", ".id", "jq expression selecting the key rows are joined on")
	ex.bind(cmd, false, true)
	f.StringVar(&o.LabelExpressionA, "label-expression-a", "", "label expression of the first set (default --label-expression)")
	f.StringVar(&o.LabelExpressionB, "label-expression-b", "", "label expression of the second set (default --label-expression)")
	f.StringVar(&o.OnBadRow, "on-bad-row", "fail", "a row without key or label: fail (naming file and line) or skip (counted)")
	f.StringVar(&o.Output, "output", "", "also write the report as JSON here (needed on remote runners)")
	f.BoolVar(&asJSON, "json", false, "print JSON instead of text")
	_ = cmd.MarkFlagRequired("a")
	_ = cmd.MarkFlagRequired("b")
	return cmd
}
