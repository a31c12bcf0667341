package main

import (
	"flag"
	"fmt"
	"log/slog"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/winnowlabs/winnow/internal/version"
)

// subcommands collects the constructors of every subcommand; each command's
// file appends to it from an init function.
var subcommands []func() *cobra.Command

// pipelineFlags are the Beam flags shown in help; every other Beam flag is
// accepted too but hidden.
var pipelineFlags = map[string]bool{
	"runner": true, "endpoint": true, "environment_type": true, "environment_config": true,
	"job_name": true, "project": true, "region": true, "staging_location": true,
	"temp_location": true, "parallelism": true, "num_workers": true, "max_num_workers": true,
	"worker_machine_type": true, "sdk_container_image": true, "worker_binary": true,
	"resource_hints": true, "experiments": true, "async": true,
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
			return nil
		},
	}
	root.PersistentFlags().StringVar(&logLevel, "log-level", "off", "log level of the pipeline runner: off, debug, info, warn or error")
	root.PersistentFlags().AddGoFlagSet(flag.CommandLine)
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) {
		if !pipelineFlags[f.Name] {
			_ = root.PersistentFlags().MarkHidden(f.Name)
		}
	})
	if f := root.PersistentFlags().Lookup("parallelism"); f != nil {
		f.Usage = "shard workers per process (default: all cores); on Flink also the job parallelism"
	}
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
