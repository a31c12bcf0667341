package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/winnowlabs/winnow/pipelines/annotate"
	"github.com/winnowlabs/winnow/transforms/llm"
	"github.com/winnowlabs/winnow/transforms/llm/cost"
	"github.com/winnowlabs/winnow/transforms/progress"
	"github.com/winnowlabs/winnow/transforms/prompts"
)

func init() {
	subcommands = append(subcommands, newAnnotateCmd, newAgreementCmd)
}

// annotateFlags are the flags of `winnow annotate` that do not map directly
// onto annotate.Options.
type annotateFlags struct {
	prompt, taskPrompt, systemPrompt string
	temperature                      float64
	dryRun, listPrompts, asJSON      bool
}

func newAnnotateCmd() *cobra.Command {
	var o annotate.Options
	var fl annotateFlags
	var ex expressionFlags
	cmd := &cobra.Command{
		Use:   "annotate -i DIR -o DIR --model MODEL (--prompt NAME|FILE | --task-prompt TEXT|@FILE) [flags]",
		Short: "Annotate rows with an LLM through any OpenAI-compatible endpoint (cached, resumable, budgeted)",
		Long: `Annotate sends the text of every row (--text-expression, default .text) through
a rubric prompt to an OpenAI-compatible server (--base-url: OpenAI, vLLM, Ollama,
SGLang ...) and writes the rows back, in order and with all their fields, plus a
field named after the prompt (--output-field renames it) holding the processor's
fields (score or labels), the raw answer, the model, token usage and cost.
Rows whose request failed after every attempt, or whose answer did not parse, go
to _errors/ with the reason and the raw answer; --retry-errors sends exactly
those again. The API key is read from $OPENAI_API_KEY (or --api-key-env NAME)
and is never logged or written.

Prompts: --prompt NAME picks a library prompt (--list-prompts) or reads a prompt
file; --task-prompt gives the task prompt as text with a {text} placeholder, or
@FILE; --system-prompt replaces the system prompt with a library system prompt
(code_system), text, or @FILE. Prompt files are a plain template or the txtar
format with header, prompt, prompt.json and schema.json sections (see the
prompts package); a prompt's schema is sent as structured output with
--processor json. Processors:
` + indent(prompts.ProcessorHelp) + `

Never pay twice: every answer is kept in a response cache keyed on the whole
request (--cache-dir, default ~/.cache/winnow/annotate, outside the output) before
its row is written; shards are committed atomically with a completion marker,
so re-running the same command after a crash or a kill skips committed shards
and answers the rest from the cache. --max-budget USD stops sending once that
much was spent (per worker process on a distributed runner): committed shards
stay, the rest are finished by a later run. --dry-run prints rows, cached rows,
estimated tokens and cost without sending anything. --batch sends each shard
through the Batch API (half price, within 24h), resumable from the state files
under <output>/_batch/. The output manifest holds the cost ledger (tokens and
dollars per shard and in total).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			if fl.listPrompts {
				return listPrompts(w)
			}
			if err := annotateOptions(cmd, &o, &fl, &ex); err != nil {
				return err
			}
			if fl.dryRun {
				est, err := annotate.DryRun(cmd.Context(), o)
				if err != nil {
					return err
				}
				return printEstimate(w, est, fl.asJSON)
			}
			start := time.Now()
			res, err := annotate.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			printResult(w, "annotate", &res.Result, time.Since(start), o.Output)
			if res.Submitted {
				return nil
			}
			printAnnotation(w, res)
			if res.Incomplete > 0 {
				return fmt.Errorf("%d shards left uncommitted: some rows were not attempted (budget reached, or batch requests expired); run the same command again to finish them (answered rows come from the cache)", res.Incomplete)
			}
			return nil
		},
	}
	bindCommon(cmd, &o.Common)
	for _, name := range []string{"input-dir", "output-dir"} {
		// --list-prompts needs neither; annotateOptions checks them.
		delete(cmd.Flags().Lookup(name).Annotations, cobra.BashCompOneRequiredFlag)
	}
	ex.bind(cmd, true, false)
	f := cmd.Flags()
	f.StringVar(&fl.prompt, "prompt", "", "library prompt name (see --list-prompts) or prompt file")
	f.StringVar(&fl.taskPrompt, "task-prompt", "", "task prompt as text with a {text} placeholder, or @FILE (a prompt file); instead of --prompt")
	f.StringVar(&fl.systemPrompt, "system-prompt", "", "replace the system prompt: a library system prompt name, the text itself, or @FILE")
	f.StringVar(&o.Processor, "processor", "", "answer processor: json, finalscore0-5, eduscore0-5, medu, regex:RE or a jq expression (default: the prompt's)")
	f.StringVar(&o.OutputField, "output-field", "", "row field receiving the annotation (default: the prompt's name)")
	f.BoolVar(&fl.listPrompts, "list-prompts", false, "list the prompt library and exit")

	f.StringVar(&o.BaseURL, "base-url", llm.DefaultBaseURL, "API root of the OpenAI-compatible server")
	f.StringVar(&o.APIKeyEnv, "api-key-env", llm.DefaultAPIKeyEnv, "environment variable holding the API key")
	f.StringVar(&o.Model, "model", "", "model name")
	floatVar(f, &fl.temperature, "temperature", "", 0, nonNegative, "sampling temperature (default: the server's)")
	intVar(f, &o.MaxNewTokens, "max-new-tokens", "", 0, nonNegative, "maximum answer tokens (0: the server's default)")
	f.StringVar(&o.ReasoningEffort, "reasoning-effort", "", "reasoning effort of reasoning models: none, minimal, low, medium, high")
	f.StringVar(&o.ServiceTier, "service-tier", "", "service tier: auto, default, flex or priority")
	intVar(f, &o.MaxTextLength, "max-text-length", "", 0, nonNegative, "truncate texts to this many characters, telling the model how much was cut (0: whole texts)")

	intVar(f, &o.MaxConcurrency, "max-concurrency", "", llm.DefaultMaxConcurrency, atLeastOne, "requests in flight per worker process")
	floatVar(f, &o.RequestsPerMinute, "max-requests-per-minute", "", 0, nonNegative, "request rate limit per worker process (0: none)")
	floatVar(f, &o.TokensPerMinute, "max-tokens-per-minute", "", 0, nonNegative, "token rate limit per worker process (0: none)")
	f.DurationVar(&o.RequestTimeout, "request-timeout", llm.DefaultRequestTimeout, "time limit of one attempt")
	intVar(f, &o.MaxAttempts, "max-attempts", "", llm.DefaultMaxAttempts, atLeastOne, "attempts per request (429, 5xx and timeouts are retried with backoff)")
	intVar(f, &o.ShardsInFlight, "shards-in-flight", "", annotate.DefaultShardsInFlight, atLeastOne, "shards annotated at once per worker process")

	f.StringVar(&o.CacheDir, "cache-dir", "", "response cache directory: local, gs:// or s3:// (default ~/.cache/winnow/annotate; required on a distributed runner)")
	f.StringVar(&o.PriceFile, "price-file", "", "JSON price table adding or replacing models' prices")
	floatVar(f, &o.MaxBudget, "max-budget", "", 0, nonNegative, "stop sending once this many US dollars were spent (0: no limit)")
	f.BoolVar(&fl.dryRun, "dry-run", false, "print rows, cached rows, estimated tokens and cost; send nothing")
	f.BoolVar(&fl.asJSON, "json", false, "with --dry-run, print the estimate as JSON")
	f.BoolVar(&o.RetryErrors, "retry-errors", false, "send again the rows whose request failed or whose answer did not parse")
	f.BoolVar(&o.Batch, "batch", false, "send requests through the Batch API (half price, answers within 24h)")
	f.DurationVar(&o.BatchPollInterval, "batch-poll-interval", 10*time.Second, "first interval between batch status polls (it grows to 5m)")
	cmd.MarkFlagsMutuallyExclusive("prompt", "task-prompt")
	return cmd
}

// annotateOptions completes o from the flags that need resolving.
func annotateOptions(cmd *cobra.Command, o *annotate.Options, fl *annotateFlags, ex *expressionFlags) error {
	if len(o.Inputs) == 0 || o.Output == "" {
		return fmt.Errorf("give --input-dir (-i) and --output-dir (-o)")
	}
	o.TextExpression = ex.text()
	p, err := annotate.LoadPrompt(fl.prompt, fl.taskPrompt)
	if err != nil {
		return err
	}
	o.Prompt = p
	if fl.systemPrompt != "" {
		if o.SystemPrompt, err = annotate.LoadSystemPrompt(fl.systemPrompt); err != nil {
			return err
		}
	}
	if cmd.Flags().Changed("temperature") {
		t := fl.temperature
		o.Temperature = &t
	}
	if o.PriceFile != "" {
		if o.Prices, err = cost.LoadFile(o.PriceFile); err != nil {
			return err
		}
	}
	return nil
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

func listPrompts(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "prompt\tprocessor\tschema\tsystem\tdescription")
	for _, p := range prompts.List() {
		schema, system := "-", "-"
		if p.Schema != nil {
			schema = "yes"
		}
		if p.System != "" {
			system = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name, p.Processor, schema, system, p.Description)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nsystem prompts (--system-prompt NAME): %s\n", strings.Join(prompts.SystemPrompts(), ", "))
	return nil
}

func printEstimate(w io.Writer, est *annotate.Estimate, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(est)
	}
	mode := ""
	if est.Batch {
		mode = ", Batch API prices"
	}
	fmt.Fprintf(w, "dry run (nothing sent): %d shards, %d already committed\n", est.Shards, est.Committed)
	fmt.Fprintf(w, "rows %s, answered by the cache %s, bad %s; requests to send %s\n",
		progress.Count(est.Rows), progress.Count(est.Cached), progress.Count(est.BadRows), progress.Count(est.Requests))
	fmt.Fprintf(w, "estimated tokens: prompt %s (characters / 4), completion %s (%d per request assumed)\n",
		progress.Count(est.PromptTokens), progress.Count(est.CompletionTokens), est.CompletionTokensPerRequest)
	if est.Priced {
		fmt.Fprintf(w, "estimated cost: $%.4f (%s%s)\n", est.CostUSD, est.Model, mode)
	} else {
		fmt.Fprintf(w, "estimated cost: unknown, %s has no price (give --price-file)\n", est.Model)
	}
	return nil
}

func printAnnotation(w io.Writer, res *annotate.Result) {
	l, sp := res.Summary.Ledger, res.Spent
	fmt.Fprintf(w, "annotations (%s, %s, field %q): %s annotated, %s failed (in _errors/); %s answers, %s prompt + %s completion tokens, $%.4f\n",
		res.Summary.Prompt, res.Summary.Model, res.Summary.Field, progress.Count(l.Annotated), progress.Count(l.Failed),
		progress.Count(l.Answers), progress.Count(l.PromptTokens), progress.Count(l.CompletionTokens), l.CostUSD)
	fmt.Fprintf(w, "this run: %s requests (%s retries), %s rows from the cache, %s prompt + %s completion tokens, $%.4f spent\n",
		progress.Count(sp.Requests), progress.Count(sp.Retries), progress.Count(sp.CacheHits),
		progress.Count(sp.PromptTokens), progress.Count(sp.CompletionTokens), sp.CostUSD)
}
