package main

import (
	"flag"
	"fmt"
	"log/slog"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/winnowlabs/winnow/internal/hugeheap"
	"github.com/winnowlabs/winnow/internal/version"
)

// subcommands collects the constructors of every subcommand; each command's
// file appends to it from an init function.
var subcommands []func() *cobra.Command

// pipelineFlags are the Beam flags shown, in their own section, in the help
// of commands that run pipelines, with what they mean to winnow (Beam's own
// texts call flags "(required)" that only some runners need). Every other
// Beam flag is accepted too but not shown.
var pipelineFlags = map[string]string{
	"runner":              "pipeline runner: prism (default: local, in this process), dataflow, flink, spark, or universal for a job server",
	"endpoint":            "job server address HOST:PORT (universal, flink and spark runners)",
	"environment_type":    "where a job server runs the workers: LOOPBACK (in this process), PROCESS, EXTERNAL or DOCKER",
	"environment_config":  "the environment's configuration, e.g. the worker command for PROCESS or the image for DOCKER",
	"job_name":            "job name on the runner",
	"project":             "Google Cloud project (dataflow)",
	"region":              "Google Cloud region (dataflow)",
	"staging_location":    "gs:// folder for the job's files (dataflow)",
	"temp_location":       "gs:// folder for temporary files (dataflow)",
	"parallelism":         "shard workers per process (default: all cores); on Flink also the job parallelism",
	"num_workers":         "initial number of workers (dataflow)",
	"max_num_workers":     "maximum number of workers when autoscaling (dataflow)",
	"worker_machine_type": "worker machine type (dataflow)",
	"sdk_container_image": "worker container image (dataflow)",
	"worker_binary":       "worker binary to stage instead of cross-compiling this program (dataflow, universal)",
	"resource_hints":      "pipeline-wide resource hints URN=VALUE, e.g. min_ram=12GB",
	"experiments":         "runner experiments, comma-separated",
	"async":               "return once the job is submitted, without waiting for it",
}

// withoutPipelines are the commands that run no Beam pipeline: their help
// shows no Beam flags.
var withoutPipelines = map[string]bool{
	"winnow": true, "version": true, "help": true, "completion": true,
	"fasttext": true, "train-fasttext": true, "eval-fasttext": true, "report": true,
}

func newRootCmd() *cobra.Command {
	var logLevel string
	root := &cobra.Command{
		Use:   "winnow",
		Short: "Turn LLM judgements into cheap text-quality classifiers and filter corpora with them",
		Long: `winnow prepares annotated datasets, scores samples with an LLM, trains fastText
classifiers and filters corpora with them. Every data step is an Apache Beam
pipeline: it runs locally on prism by default and on Dataflow, Flink or Spark
with Beam's flags, e.g. --runner=dataflow --project=P --region=R
--staging_location=gs://B/staging, or --runner=universal --endpoint=HOST:PORT
for a Flink or Spark job server. Paths may be local, gs://, s3:// or memfs://.`,
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch logLevel {
			case "debug", "info", "warn", "error":
				// beam.Init sets up the runner's logging from this variable.
				beamlog.LogLevel = logLevel
				beam.Init()
			case "off":
				// Failures reach the user as the command's own error; the
				// runner's logs repeat them with its internals.
				beamlog.LogLevel = "error"
				beam.Init()
				slog.SetDefault(slog.New(slog.DiscardHandler))
			default:
				return fmt.Errorf("--log-level %q: want off, debug, info, warn or error", logLevel)
			}
			slog.Debug("memory", "huge_pages", hugeheap.Status())
			return resolveWorkerPaths(cmd, cmd.ErrOrStderr())
		},
	}
	root.PersistentFlags().StringVar(&logLevel, "log-level", "off", "log level of the pipeline runner: off, debug, info, warn or error")
	// Beam's flags are accepted everywhere but listed in a section of their
	// own (see pipelineFlags).
	beamFlags := pflag.NewFlagSet("beam", pflag.ContinueOnError)
	root.PersistentFlags().AddGoFlagSet(flag.CommandLine)
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "log-level" {
			return
		}
		_ = root.PersistentFlags().MarkHidden(f.Name)
		if usage, ok := pipelineFlags[f.Name]; ok {
			shown := *f
			// Beam's defaults (-1, []) mean "unset".
			shown.Usage, shown.Hidden, shown.DefValue = usage, false, ""
			beamFlags.AddFlag(&shown)
		}
	})
	usage := root.UsageFunc()
	root.SetUsageFunc(func(c *cobra.Command) error {
		if err := usage(c); err != nil {
			return err
		}
		if withoutPipelines[c.Name()] {
			return nil
		}
		_, err := fmt.Fprintf(c.OutOrStderr(), "\nBeam pipeline flags (a local run needs none; they choose and configure another runner):\n%s",
			beamFlags.FlagUsages())
		return err
	})
	for _, mk := range subcommands {
		root.AddCommand(mk())
	}
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print winnow's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintln(cmd.OutOrStdout(), version.String())
		},
	})
	return root
}
