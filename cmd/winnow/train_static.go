package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/models/head"
	"github.com/winnowlabs/winnow/pipelines/train"
	"github.com/winnowlabs/winnow/transforms/normalize"
)

func init() {
	subcommands = append(subcommands, newTrainModel2VecCmd, newTrainContrastiveCmd, newEvalModel2VecCmd)
	trainKindCommands[models.KindModel2Vec] = newTrainModel2VecCmd
	trainKindCommands[models.KindContrastive] = newTrainContrastiveCmd
}

func newEvalModel2VecCmd() *cobra.Command {
	return newEvalCommand("eval-model2vec", "Evaluate a Model2Vec classifier or regressor on test data (same as eval)")
}

func newTrainModel2VecCmd() *cobra.Command {
	return newStaticTrainCmd(models.KindModel2Vec)
}

func newTrainContrastiveCmd() *cobra.Command {
	return newStaticTrainCmd(models.KindContrastive)
}

// newStaticTrainCmd makes train-model2vec or train-contrastive.
func newStaticTrainCmd(kind string) *cobra.Command {
	var (
		o         = train.Options{Kind: kind}
		fields    expressionFlags
		hiddenDim int
		layers    int
		classW    string
		seed      uint64
	)
	so := &o.Static
	cmd := &cobra.Command{Args: cobra.NoArgs}
	if kind == models.KindModel2Vec {
		cmd.Use = "train-model2vec -d DATA_DIR [-d DATA_DIR ...] (-m BASE_MODEL | --from-scratch --tokenizer tokenizer.json --dim N) -o MODEL_DIR"
		cmd.Short = "Train a Model2Vec classifier or regressor (a GoMLX head on static embeddings)"
		cmd.Long = `train-model2vec trains a classifier (or, with --regression, a regressor of
numeric labels) on a Model2Vec model's pooled embeddings, as model2vec's
StaticModelForClassification and bonepick do: an MLP head
Linear(d, --hidden-dim)–ReLU–...–Linear(·, k) trained on GoMLX with Adam,
cross-entropy (--loss-class-weight uniform|balanced|sqrt) or MSE,
model2vec's batch-size rule, ReduceLROnPlateau (factor 0.5, patience 3) and
early stopping on the valid split (patience 5; a stratified 10% of train is
carved out when the datasets have no valid/), restoring the best epoch.

Modes:
  frozen (default)        the base model's table stays as it is: every row is
                          pooled once by a Beam step (kept beside the model in
                          MODEL_DIR.features, reused by later runs) and only
                          the head trains.
  --finetune-embeddings   the embedding table and per-token weights train with
                          the head (model2vec's default), on the driver.
  --from-scratch          a random table of --dim dimensions over the
                          vocabulary of --tokenizer trains with the head, for
                          users without pretrained static embeddings.

Datasets are directories of JSON rows with train/ (and optionally valid/ and
test/) folders; -t/-l (or the expressions) select text and label. MODEL_DIR
holds manifest.json, the head (head.safetensors, head.json) and the Model2Vec
model under embeddings/ (the Python library loads it unchanged); score,
filter and eval use it. Training is seeded and deterministic on the go
backend.`
		cmd.Example = `  winnow train-model2vec -d work/balanced -m potion-base-8M -o work/models/edu-m2v
  winnow train-model2vec -d work/balanced --from-scratch --tokenizer data/tokenizers/bert-base-uncased/tokenizer.json --dim 256 -o work/models/edu-m2v
  winnow train-model2vec -d work/imported -l scores.score --regression -m potion-base-8M -o work/models/edu-reg`
	} else {
		cmd.Use = "train-contrastive -d DATA_DIR [-d DATA_DIR ...] -m BASE_MODEL -o MODEL_DIR"
		cmd.Short = "Train a contrastive ranker (pairwise hinge loss within k-means clusters) on static embeddings"
		cmd.Long = `train-contrastive trains a scalar score head on a Model2Vec model's pooled
embeddings so that, within groups of similar documents, better-labelled ones
score higher (bonepick's design): the training rows are clustered by k-means
(--n-clusters, default 100), batches are drawn within a cluster, and the loss
is the mean over same-cluster pairs with yᵢ > yⱼ of max(0, m − (sᵢ − sⱼ))
(--margin, default 1); batches without such a pair are skipped and counted.
Labels must be numeric (e.g. 0-5 scores). Early stopping watches the
validation Spearman correlation. Evaluate with "winnow eval": ranking metrics
(Spearman, Kendall, ROC AUC for binary labels, F1 at the best threshold).`
		cmd.Example = `  winnow train-contrastive -d work/imported -l scores.score -m potion-base-8M -o work/models/edu-rank`
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		so.Fields = train.Fields{TextExpression: fields.text(), LabelExpression: fields.label()}
		if cmd.Flags().Changed("hidden-dim") || cmd.Flags().Changed("layers") {
			if hiddenDim <= 0 || layers < 0 {
				return fmt.Errorf("--hidden-dim must be positive and --layers at least 0")
			}
			so.Hidden = make([]int, layers)
			for i := range so.Hidden {
				so.Hidden[i] = hiddenDim
			}
		}
		so.Head.ClassWeight = head.ClassWeighting(classW)
		so.Head.Seed = seed
		so.Progress = cmd.ErrOrStderr()
		return runTrain(cmd, o)
	}
	f := cmd.Flags()
	bindTrainCommon(cmd, &o, "dataset directory of JSON rows with train/ (valid/, test/) folders (repeatable; concatenated)")
	fields.bind(cmd, true, true)
	f.StringVarP(&so.Base, "model-name", "m", "", "base Model2Vec model directory")
	if kind == models.KindModel2Vec {
		f.BoolVar(&so.FromScratch, "from-scratch", false, "train a random static table with the head instead of starting from a base model")
		f.StringVar(&so.Tokenizer, "tokenizer", "", "tokenizer.json of --from-scratch")
		f.IntVar(&so.Dim, "dim", 256, "embedding dimension of --from-scratch")
		f.BoolVar(&so.Finetune, "finetune-embeddings", false, "train the embedding table and per-token weights with the head")
		f.BoolVar(&so.Regression, "regression", false, "train a regressor of numeric labels (MSE) instead of a classifier")
		f.StringVar(&classW, "loss-class-weight", string(head.Uniform), "class weights of the cross-entropy: uniform, balanced or sqrt")
	} else {
		f.IntVar(&so.Head.Clusters, "n-clusters", 100, "k-means clusters within which pairs are drawn")
		f.Float64Var(&so.Head.Margin, "margin", 1, "margin of the pairwise hinge loss")
	}
	f.IntVar(&hiddenDim, "hidden-dim", head.DefaultHidden, "width of the head's hidden layers")
	f.IntVar(&layers, "layers", 1, "number of hidden layers (0: a linear head)")
	f.Float64Var(&so.Head.LearningRate, "learning-rate", 1e-3, "Adam's learning rate")
	f.IntVar(&so.Head.BatchSize, "batch-size", 0, "batch size (default: model2vec's rule, 32×clamp(N/30/32, 1, 16))")
	f.IntVar(&so.Head.MaxEpochs, "max-epochs", 0, "stop after this many epochs (0: only early stopping ends training)")
	f.IntVar(&so.Head.Patience, "early-stopping-patience", 5, "epochs without improvement on the valid split before stopping")
	f.Uint64Var(&seed, "seed", 42, "seed of the initialisation, shuffles and clustering")
	f.StringVarP(&so.Normalizer, "normalizer", "n", "", "text normalizer applied before embedding, recorded in the model ("+strings.Join(normalize.Names(), ", ")+"; default none)")
	f.StringVar(&so.NormalizerTokenizer, "normalizer-tokenizer", "", "tokenizer.json of a tokenizer-based --normalizer")
	f.StringVar(&so.Backend, "backend", "go", "GoMLX backend: go, xla:cuda or xla:/abs/path/plugin.so")
	f.StringVar(&so.FeaturesDir, "features-dir", "", "where the frozen mode keeps the pooled rows (default MODEL_DIR.features)")
	return cmd
}
