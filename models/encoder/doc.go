// Package encoder runs BERT-family encoders from Hugging Face model
// directories on GoMLX: the FineWeb-Edu classifier and heads of its kind
// (BertForSequenceClassification), and sentence-transformers encoders
// (BertModel) as embedders.
//
// # Model directories
//
// Load reads a directory as transformers and sentence-transformers save it:
//
//   - config.json: "architectures" ["BertForSequenceClassification"] or
//     ["BertModel"], "model_type" "bert", hidden_size, num_hidden_layers,
//     num_attention_heads, intermediate_size, hidden_act (gelu, gelu_new,
//     gelu_pytorch_tanh, relu), layer_norm_eps, max_position_embeddings,
//     type_vocab_size, and for a classifier num_labels / id2label and
//     problem_type;
//   - model.safetensors, or the shards listed by
//     model.safetensors.index.json: F32, F16 or BF16 tensors (computed in
//     float32), named with the "bert." prefix (BertForSequenceClassification)
//     or without (BertModel), LayerNorm scales and shifts as weight/bias or
//     gamma/beta, the pooler (bert.pooler.dense.*) and the classifier
//     (classifier.*);
//   - tokenizer.json: its special tokens around the text ([CLS] ... [SEP])
//     come from its post-processor; texts are truncated to the maximum length
//     with them included;
//   - for a BertModel, sentence-transformers' modules.json,
//     1_Pooling/config.json (CLS or mean pooling; mean when absent),
//     sentence_bert_config.json (max_seq_length) and a Normalize module.
//
// Anything else (another architecture or model type, relative position
// embeddings, other poolings or modules, a missing or misshapen tensor) is
// refused with an error naming the field, tensor and file. Tensors the model
// does not use are listed by Model.UnusedTensors.
//
// # Outputs
//
// Model.Predict returns what the model is for (Model.Task): the raw output
// of a regression head (the FineWeb-Edu classifier's score, as its model
// card's Python prints it), per-label probabilities of a classifier (softmax,
// or sigmoid for problem_type multi_label_classification), or a BertModel's
// pooled embedding. Model.Compute returns any of the forward pass's outputs:
// the classifier's logits, the pooler's output, the [CLS] hidden state (what a
// head trained on a frozen encoder reads) and the mean of the token states.
// Model.Pooler returns the checkpoint's pooler, to initialise a head with.
// Export writes an encoder with a trained pooler and head as a
// BertForSequenceClassification directory that Load and transformers both
// read.
//
// # Batches and compiled executables
//
// A call tokenizes its texts, groups them by length into buckets (by default
// 64, 128, 256 and 512 tokens, capped at the maximum length), pads each
// group's texts to the bucket length in batches of at most
// Options.BatchSize texts and Options.BatchTokens tokens (a group's
// leftover texts in batches of powers of two: no padded rows), and
// returns the results in input order. Every batch shape is compiled once, on
// first use, and the executables are shared by all goroutines using the
// Model; Options.Workers batches of one call run at once. The model's
// weights are parameters of the executables, held once on the backend.
//
// # Backends
//
// Load takes the GoMLX backend (a compute.Backend) the caller opened. On the
// CPU, the pure-Go backend (github.com/gomlx/compute/gobackend) needs no cgo
// and no library; build with GOEXPERIMENT=simd (Go 1.26) to get its AVX2 and
// AVX-512 matrix kernels, which run BERT about 15 times faster than its
// portable kernels (bench/encoder).
//
// A GPU worker runs the same code on XLA through a PJRT plugin, opened by
// models/gomlxbackend (see its documentation): the binary is built with cgo
// and the build tag "xla", and the plugin is selected by name or absolute
// path. The CUDA plugin ships in the jax-cuda PJRT wheels (jax-cuda12-pjrt:
// the file jax_plugins/xla_cuda12/xla_cuda_plugin.so) and needs the NVIDIA
// driver and the CUDA libraries the matching jax-cuda12-plugin wheel
// depends on (the nvidia-*-cu12 wheels, or a CUDA installation on
// LD_LIBRARY_PATH):
//
//	CGO_ENABLED=1 go build -tags xla -o winnow ./cmd/winnow
//	winnow score -m MODEL -i IN -o OUT --backend xla:/opt/pjrt/xla_cuda_plugin.so
//	PJRT_PLUGIN_LIBRARY_PATH=/opt/pjrt winnow score ... --backend xla:cuda  # pjrt_c_api_cuda_plugin.so
//
// XLA compiles one program per batch shape, which the length buckets keep
// few; on a GPU, larger batches (Options.BatchSize 128 to 512, with
// Options.BatchTokens raised to match; winnow score's --batch-size raises
// both) keep it busy. GPU throughput has not been measured: no GPU was
// available where this package was developed.
// On Dataflow the accelerator is a pipeline-wide resource hint, and the
// worker image carries the plugin and the CUDA libraries:
//
//	winnow score -m gs://B/models/fineweb-edu-classifier -i gs://B/corpus -o gs://B/scored \
//	  --backend xla:/opt/pjrt/xla_cuda_plugin.so --batch-size 256 \
//	  --runner=dataflow --project=P --region=us-central1 \
//	  --staging_location=gs://B/staging --temp_location=gs://B/tmp \
//	  --sdk_container_image=us-central1-docker.pkg.dev/P/R/winnow-gpu:TAG \
//	  --worker_binary=./winnow-linux-amd64-cgo --machine_type=g2-standard-8 \
//	  '--resource_hints=accelerator=type:nvidia-l4;count:1;install-nvidia-driver'
package encoder
