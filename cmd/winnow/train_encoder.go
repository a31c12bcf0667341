package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/pipelines/train"
)

func init() {
	subcommands = append(subcommands, newTrainEncoderCmd)
	trainKindCommands[models.KindEncoder] = newTrainEncoderCmd
}

func newTrainEncoderCmd() *cobra.Command {
	var (
		o      = train.Options{Kind: models.KindEncoder}
		fields expressionFlags
		rng    []float64
		seed   uint64
	)
	eo := &o.Encoder
	cmd := &cobra.Command{
		Use:   "train-encoder -d DATA_DIR [-d DATA_DIR ...] --base BERT_DIR -o MODEL_DIR",
		Short: "Train a FineWeb-Edu style head (BERT pooler + linear) on a frozen encoder",
		Long: `train-encoder trains a classifier head on a BERT-family encoder as FineWeb-Edu's
classifier was trained (huggingface/cosmopedia train_edu_bert.py): the
embeddings and the encoder stay frozen, so the [CLS] state of every row is
computed once, by a Beam step, into MODEL_DIR.features (a later run with other
head settings reuses it); then the BERT pooler (dense + tanh, initialised from
the base checkpoint) and a linear layer train on GoMLX: one output with MSE on
numeric labels (a regressor; --num-labels K trains a K-class classifier with
cross-entropy instead), AdamW with learning rate 3e-4 decaying linearly to 0,
batch size 256, 20 epochs, keeping the epoch with the best macro-F1 on the
valid split (of the predictions rounded and clipped to --score-range, for a
regressor; 10% of train is carved out when the datasets have no valid/).

--base is a Hugging Face BERT directory (a BertModel such as
Snowflake/snowflake-arctic-embed-m, which FineWeb-Edu started from, or a
BertForSequenceClassification) or a Hub name (hf://OWNER/NAME). MODEL_DIR is
written in transformers' BertForSequenceClassification layout (config.json,
model.safetensors with bert.* and classifier.*, the tokenizer files), which
Python loads unchanged, plus manifest.json; score, filter and eval read it,
with or without the manifest. A regressor's score is its raw output and
int_score the score rounded and clipped to --score-range.`,
		Example: `  winnow train-encoder -d work/edu -l .int_score --base models/snowflake-arctic-embed-m -o work/models/edu-bert
  winnow train --kind encoder -d work/edu --base hf://Snowflake/snowflake-arctic-embed-m -o work/models/edu-bert --epochs 5
  winnow train-encoder -d work/edu --base models/bert --num-labels 6 -o work/models/edu-6`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			eo.Fields = train.Fields{TextExpression: fields.text(), LabelExpression: fields.label()}
			if cmd.Flags().Changed("score-range") {
				if len(rng) != 2 {
					return fmt.Errorf("--score-range takes two numbers, MIN,MAX")
				}
				eo.Range = &[2]float64{rng[0], rng[1]}
			}
			eo.Head.Seed = seed
			eo.Progress = cmd.ErrOrStderr()
			return runTrain(cmd, o)
		},
	}
	f := cmd.Flags()
	bindTrainCommon(cmd, &o, "dataset directory of JSON rows with train/ (valid/, test/) folders (repeatable; concatenated)")
	fields.bind(cmd, true, true)
	f.StringVar(&eo.Base, "base", "", "base encoder: a Hugging Face BERT directory or hf://OWNER/NAME")
	intVar(f, &eo.NumLabels, "num-labels", "", 0, nonNegative, "train a classifier of this many labels (at least 2) instead of a regressor")
	f.Float64SliceVar(&rng, "score-range", []float64{0, 5}, "a regressor's score range MIN,MAX, which int_score is clipped to")
	floatVar(f, &eo.Head.LearningRate, "learning-rate", "", train.EncoderLearningRate, positive, "AdamW's initial learning rate")
	f.Float64Var(&eo.Head.WeightDecay, "weight-decay", 0, "AdamW's decoupled weight decay (transformers' default 0)")
	f.BoolVar(&eo.ConstantRate, "constant-lr", false, "keep the learning rate constant instead of decaying it linearly to 0")
	intVar(f, &eo.Head.BatchSize, "batch-size", "", train.EncoderBatchSize, atLeastOne, "training batch size")
	intVar(f, &eo.Head.MaxEpochs, "epochs", "", train.EncoderEpochs, atLeastOne, "number of epochs")
	f.Uint64Var(&seed, "seed", 0, "seed of the initialisation of the linear layer and of the shuffles")
	f.StringVar(&eo.Backend, "backend", "go", "GoMLX backend of the encoder and the head: go, xla:cuda or xla:/abs/path/plugin.so")
	intVar(f, &eo.BatchSize, "encode-batch-size", "", 0, nonNegative, "texts per forward pass of the encoder (default 32)")
	intVar(f, &eo.MaxLength, "max-length", "", 0, nonNegative, "truncate texts to this many tokens, [CLS] and [SEP] included (default: the base's maximum)")
	f.StringVar(&eo.FeaturesDir, "features-dir", "", "where the [CLS] states of the rows are kept (default MODEL_DIR.features)")
	_ = cmd.MarkFlagRequired("base")
	return cmd
}
