// Package head is winnow's small neural head on top of pooled text
// features (Model2Vec embeddings, an encoder's [CLS] vector): an MLP
// Linear(d, h₁)–act–…–Linear(hₙ, k), its file format, inference in plain Go
// and on GoMLX, and its training on GoMLX.
//
// One head type serves every recipe: model2vec's classifier
// (Linear(d,512)–ReLU–Linear(512,k), cross-entropy), bonepick's regressor
// (the same with one output and MSE), the FineWeb-Edu classifier (one tanh
// layer initialised from a BERT pooler, then Linear(768,1), MSE, selected
// by the macro-F1 of rounded scores over a fixed number of epochs) and the
// contrastive ranker (a scalar score trained with a pairwise hinge loss).
//
// # Layout and file format
//
// Layer i computes yᵢ = Wᵢ·xᵢ + bᵢ with Wᵢ stored [out, in] row-major, as
// PyTorch's nn.Linear stores it; every layer but the last is followed by
// the activation. A head is saved as two files in a directory:
//
//   - head.safetensors: float32 tensors "layers.<i>.weight" [out, in] and
//     "layers.<i>.bias" [out], i = 0 … len(Hidden);
//   - head.json: the format name and version, the Config, the labels
//     (classification), the score range (regression, ranking) and the
//     training record (resolved options, per-epoch history, best epoch,
//     why training stopped).
//
// Load(Save(h)) gives a head with bit-identical weights, and saving it again
// gives byte-identical files.
//
// # Inference
//
// Head.Forward (plain Go) and Predictor.Forward (GoMLX) return raw
// outputs: logits for classification (Softmax turns them into
// probabilities), the predicted score for regression, the ranking score
// for ranking. Forward sums every output in input order, so a row's outputs
// do not depend on the batch it comes in; it allocates nothing with a
// reused Scratch and is safe for concurrent use. The Predictor compiles one
// graph per batch size (DefaultBatchSizes) on first use and serves any
// number of goroutines; the two agree within 1e-5. Which is faster on the
// CPU depends on the build (BenchmarkForward, model2vec's 256→512→2 head):
// in a default build the plain-Go Forward is (about 1.3 to 3× the Go
// backend's rows/s from 1 to 1,024 rows per call), so scoring on CPUs uses
// it; built with GOEXPERIMENT=simd (SIMDKernels) the Go backend's AVX
// kernels make the Predictor about 3× faster at 16 rows and 10× at 256 and
// more. On XLA backends the Predictor is the way.
//
// # Training
//
// Train (pooled features) and Finetune (token ids, training the embedding
// table and per-token weights too) run model2vec's recipe on GoMLX:
//
//   - initialisation: hidden layers Kaiming-uniform for their activation,
//     the output layer Xavier-uniform, biases zero (or given weights,
//     Options.Init, e.g. a BERT pooler);
//   - loss: cross-entropy weighted by class (uniform, balanced or sqrt, as
//     bonepick defines them; see ClassWeighting), mean squared error, or the
//     ranking hinge below; padding rows of the last batch carry weight 0;
//   - Adam (lr 1e-3, β 0.9/0.999, ε 1e-8), AdamW with Options.WeightDecay;
//   - batch size 32·clamp(⌊N/30/32⌋, 1, 16) for N training rows;
//   - after every epoch: the validation loss (over the whole validation
//     set) and the selection metric (accuracy, macro-F1, loss or
//     Spearman); ReduceLROnPlateau on the validation loss (factor 0.5,
//     patience 3, relative threshold 0.03, floor 1e-6); early stopping on
//     the metric (patience 5, min delta 0.001 for accuracy) as PyTorch
//     Lightning's EarlyStopping; the best epoch's weights are returned
//     (model2vec itself restores Lightning's last checkpoint);
//   - no validation set: a 10% split carved out of the training rows with
//     seed 42, stratified by class for classification.
//
// A progress callback receives every epoch (losses, metric, learning rate,
// rows/s, ETA); cancelling the context stops training between steps.
//
// # Ranking
//
// bonepick's train-contrastive was documented but never published; this is
// winnow's design of it. The training rows are clustered by k-means
// (Options.Clusters, default 100, at most the number of rows; k-means++
// seeding), so that rows are compared with similar rows only. Every epoch
// each cluster's rows are shuffled and cut into batches; a batch without
// two rows of different labels has no pair to learn from and is skipped
// (Epoch.SkippedBatches). The head outputs one score s, and a batch's loss
// is the mean, over its pairs (i, j) with yᵢ > yⱼ, of the hinge
// max(0, m − (sᵢ − sⱼ)) (margin m = Options.Margin, default 1). Validation
// rows go to their nearest training centroid; the validation loss is the
// same hinge averaged over every pair of every validation cluster's
// batches, and drives the plateau, early stopping and the best epoch
// (Metric Spearman selects by the rank correlation of scores and labels
// instead).
//
// # Determinism
//
// Training is deterministic for a seed: the initialisation, the shuffles,
// the clustering and the validation split come from seeded PCG streams,
// and on GoMLX's Go backend the same data and options give bit-identical
// weights whatever the number of cores (its matrix products split the
// output among workers but sum every output element in one fixed order,
// and its reductions and scatters are sequential). A build with another
// kernel set (GOEXPERIMENT=simd) is deterministic too but computes other
// last bits. On XLA, results are reproducible as far as XLA's GPU kernels
// are; scatter-add (the embedding gradient of Finetune) uses atomics on
// CUDA and is not bit-reproducible there.
package head
