// Package model2vec loads Model2Vec static-embedding models and encodes
// texts exactly as the Python library's StaticModel.encode does
// (MinishLab/model2vec, model2vec/model.py), in plain Go.
//
// # Model directories
//
// Load reads the layouts the library reads, in its order: config.json,
// model.safetensors and tokenizer.json (tensor "embeddings"); or
// config_sentence_transformers.json with model.safetensors and tokenizer.json
// beside it or under 0_StaticEmbedding/ (tensor "embedding.weight"). The
// embedding table may be stored as F32, F16, F64 or I8. The library stores
// no scale with an int8 table and computes with the integers as they are:
// so does this package (with normalize the scale cancels out). Optional
// tensors: "weights" [V], a per-token factor, and "mapping" [V], the row of
// each token id in a smaller table (vocabulary quantization). config.json's
// "normalize" is the only setting that changes encoding; the rest of the
// file is kept as it is by Save.
//
// # Encoding
//
// Tokenize gives the ids that StaticModel.tokenize gives with encode's
// default max_length of 512 (MaxTokens):
//
//  1. the text is cut to MaxTokens × L characters (Unicode code points),
//     where L is int(median of the code-point lengths of every vocabulary
//     entry, added tokens included);
//  2. it is encoded without special tokens (hftok);
//  3. the unknown token's id is dropped when the tokenizer model names one
//     (WordPiece, BPE, WordLevel: tokenizer.model.unk_token; a Unigram model
//     has no unk_token attribute, so its unknown id stays);
//  4. the first MaxTokens ids are kept.
//
// Encode pools them (Pool's formula): with T the table, m the mapping (the
// identity without one), w the weights (1 without them) and ids i₁…iₙ,
//
//	v = (1/n) Σₖ w[iₖ] · T[m[iₖ]]
//	v = v / (‖v‖₂ + 1e-32)   when normalize
//
// and the zero vector when n = 0. The sum adds each distinct id's row once,
// times its count, in float32; the norm is taken in float64. The library
// computes in the table's dtype (float64 once float64 weights or an int8
// table are involved): on the test texts results agree within 3e-8 for the
// int8 fixture, 2e-7 for the vocabulary-quantized one (float64 weights),
// 5e-6 for float32 tables (the library's float32 sum of 512 rows rounds
// more than the counted one), and 1e-3 for float16 tables, whose mean and
// normalization the library keeps in float16 while this package widens the
// table to float32 once at load.
//
// # Training (the head package's forward)
//
// Model2Vec's trainer (model2vec/train/base.py, BaseFinetuneable._encode)
// pools differently from StaticModel.encode; a winnow trainer that follows
// this package instead makes what it trains and what Save writes encode the
// same. The differences:
//
//   - Token weights. The trainer learns a logit u per token id and uses
//     sigmoid(u) as the weight; it starts from logit(weights) when the model
//     has weights and from u = 0 (weight ½) when it has none, with
//     u[pad] = -10000. Encode uses the weights as stored. A trained model
//     is therefore the table T and weights sigmoid(u): New(T, sigmoid(u))
//     then Save writes both, and Encode computes exactly the trainer's
//     Σ sigmoid(u[iₖ])·T[iₖ] / n. (The library's to_static_model instead
//     folds sigmoid(u) into the rows of T and drops the weights; that is the
//     same vector.) From a base model without weights the library's
//     trainer starts every weight at ½: with normalize that changes no
//     vector, without it every vector is halved until training moves the
//     weights.
//   - Padding. The trainer pads batches with the pad token id and excludes
//     that id from the mean (n counts the other ids). Encode counts every
//     id, including a literal [PAD] in the text: a batched forward must mask
//     by position (the true length of each row), not by id.
//   - Tokenization. The trainer cuts texts to 512×10 characters and keeps
//     unknown ids; Encode cuts to 512×L characters and drops the unknown
//     id. A winnow trainer should feed Tokenize's ids.
//   - Normalization. The trainer divides by max(‖v‖, 1e-12) (PyTorch's
//     normalize), Encode by ‖v‖ + 1e-32; they differ only for vectors of
//     norm below 1e-12.
//   - Vocabulary quantization. The trainer trains the small table through
//     the mapping; DenseTable resolves the mapping into one row per token
//     id, which a winnow trainer can train and New can take.
//
// So a batched forward in a GoMLX graph, on a row holding one text's ids
// i₁…iₙ and masked by position beyond n, must equal
// Pool(dst, DenseTable(), Dim(), Weights(), ids, Normalize()) (weights 1
// when nil): Pool is the reference its tests compare against.
package model2vec
