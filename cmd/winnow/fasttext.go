package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/winnowlabs/winnow/models/fasttext/ftcli"
)

func init() {
	subcommands = append(subcommands, newFastTextCmd)
}

func newFastTextCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "fasttext <command> <args>",
		Short: "Drop-in replacement for the fastText command line (supervised, test, predict, quantize, ...)",
		Long: `winnow fasttext runs fastText's own commands, implemented natively, with the
C++ tool's arguments and output, so that scripts written for the archived
binary run unchanged with "fasttext" replaced by "winnow fasttext":

  winnow fasttext supervised -input train.txt -output model -epoch 25 -wordNgrams 2
  winnow fasttext test model.bin test.txt [k] [threshold]
  winnow fasttext test-label model.bin test.txt [k] [threshold]
  winnow fasttext predict model.bin - [k] [threshold]        (- reads stdin)
  winnow fasttext predict-prob model.bin test.txt 3 0.1
  winnow fasttext quantize -input train.txt -output model -qnorm -retrain -cutoff 100000
  winnow fasttext print-sentence-vectors model.bin < text.txt
  winnow fasttext print-word-vectors model.bin < words.txt

Arguments take a single dash as in fastText (-input, -lr, -epoch, ...; a
double dash works too); "winnow fasttext supervised -h" lists them with their
defaults, which are fastText's (for supervised: lr 0.1, dim 100, epoch 5,
minCount 1, loss softmax, wordNgrams 1, bucket 2000000, thread 12).
Models are read and written in fastText's .bin/.ftz format (version 12) and
are interchangeable with the C++ tool's. Additions: -exact makes -thread 1
training reproduce fastText 0.9.2's model file byte for byte; test-label
prints correct per-label recall and F1. Unsupervised training (skipgram,
cbow), print-ngrams, nn, analogies and dump are not implemented.`,
		DisableFlagParsing: true,
		SilenceUsage:       true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || (len(args) == 1 && (args[0] == "-h" || args[0] == "--help")) {
				return cmd.Help()
			}
			err := ftcli.Main(cmd.Context(), args, ftcli.IO{Stdin: os.Stdin, Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()})
			if errors.Is(err, ftcli.ErrUsage) {
				return fmt.Errorf("fasttext %w", err)
			}
			return err
		},
	}
}
