// Package fasttext is a native Go implementation of fastText's supervised
// text classifier, compatible with the C++ tool (version 0.9.2, model
// format 12) in files and results.
//
// Models written by the C++ tool load here and vice versa; load then save
// is byte-identical. Quantized models (.ftz: product quantization, qnorm,
// qout, pruned dictionaries) are supported for inference and produced by
// Quantize. Prediction reproduces fastText's results exactly, including the
// order of equal scores, hierarchical softmax's depth-first search with its
// threshold, and the probabilities it reports (exp(log(p + 1e-5))).
//
// Training (Train) follows the C++ tool step for step: the same dictionary
// (FNV-1a hashing with sign-extended bytes, minCount thresholds, std::sort
// order), word n-grams and character n-grams hashed into buckets, the same
// initialisation and random draws (std::minstd_rand and the libstdc++
// distributions), Hogwild SGD over threads with a learning rate decaying
// linearly to zero, and the losses softmax, ns, hs and one-vs-all. With
// Args.Exact and one thread the model file is byte-identical to the C++
// tool's; by default the dot products and updates use vectorised kernels
// (AVX2 with fused multiply-add where available), which changes results
// only in the last bits. Training with one thread is deterministic.
//
// Concurrency: a Model is safe for concurrent prediction. Each call takes
// scratch space from a pool; a Predictor owns its scratch space for one
// goroutine and predicts without allocating beyond the result. Training
// threads update the shared matrices without locks, as fastText does
// (Hogwild); this is a deliberate data race on float32 values, which the
// race detector reports. With a loss that updates every output row on every
// example (softmax, one-vs-all), each thread trains a replica of the output
// matrix and merges its changes into the shared one every few examples, so
// that threads do not pass the whole matrix between cores on every example.
//
// Unsupervised training (skipgram, cbow) is not implemented; such models
// load, and their word vectors can be read.
package fasttext
