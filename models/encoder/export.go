package encoder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/winnowlabs/winnow/models/safetensors"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// Head is a pooler and a classification or regression layer on a BERT
// encoder, as BertForSequenceClassification computes it:
// Classifier(tanh(Pooler([CLS] state))).
type Head struct {
	// Pooler is [hidden, hidden]; nil keeps the base checkpoint's pooler.
	Pooler *Linear
	// Classifier is [labels, hidden].
	Classifier Linear
	// Labels name the outputs (config.json's id2label); nil names them
	// LABEL_0, LABEL_1, ... as transformers does.
	Labels []string
	// ProblemType is ProblemRegression, ProblemSingleLabel or
	// ProblemMultiLabel.
	ProblemType string
}

// tokenizerFiles are copied from the base model to an export when present;
// tokenizer_config.json is written apart.
var tokenizerFiles = []string{"tokenizer.json", "special_tokens_map.json", "vocab.txt"}

// Export writes the encoder of the model directory base with head to dir
// in the layout of transformers' BertForSequenceClassification, which both
// Load and transformers' AutoModelForSequenceClassification.from_pretrained
// read unchanged:
//
//   - config.json: base's, with "architectures":
//     ["BertForSequenceClassification"], "num_labels", "id2label",
//     "label2id" and "problem_type" set ("model_type" must be "bert": it is
//     how transformers picks the model class);
//   - model.safetensors: base's encoder tensors (embeddings.*, encoder.*)
//     as they are, under "bert.", then "bert.pooler.dense.weight/bias" and
//     "classifier.weight/bias", all float32, with the header metadata
//     {"format": "pt"} without which transformers refuses the file;
//   - the tokenizer files of base (tokenizer.json, special_tokens_map.json,
//     vocab.txt), which AutoTokenizer reads, and its tokenizer_config.json
//     with "model_max_length" set to the number of tokens base truncates
//     texts to (for a sentence-transformers model, its max_seq_length),
//     so that the export truncates as its base did.
//
// Base may be a BertModel or a BertForSequenceClassification directory; dir
// is created if needed and must not be base.
func Export(base, dir string, head Head) error {
	cfg, err := readConfig(base)
	if err != nil {
		return err
	}
	var st *sentenceTransformers
	if cfg.Arch() == ArchModel {
		if st, err = readSentenceTransformers(base); err != nil {
			return err
		}
	}
	maxLen, err := maxLength(base, cfg, st)
	if err != nil {
		return err
	}
	if err := checkHead(cfg, &head); err != nil {
		return fmt.Errorf("encoder: export %s: %w", dir, err)
	}
	if same, err := sameDir(base, dir); err != nil || same {
		return fmt.Errorf("encoder: export to %s: it is the base model's directory", dir)
	}
	ckpt, err := openCheckpoint(base)
	if err != nil {
		return err
	}
	defer ckpt.close()
	// Read the base as Load does, which checks every tensor the export
	// needs, then copy the encoder's tensors as they are.
	if _, err := loadParams(ckpt, cfg); err != nil {
		return err
	}
	var out []safetensors.Tensor
	for _, name := range slices.Sorted(maps.Keys(ckpt.where)) {
		rest, ok := strings.CutPrefix(name, ckpt.prefix)
		if !ok || strings.HasSuffix(rest, "position_ids") ||
			!strings.HasPrefix(rest, "embeddings.") && !strings.HasPrefix(rest, "encoder.") {
			continue
		}
		data, shape, err := ckpt.where[name].Float32(name)
		if err != nil {
			return fmt.Errorf("encoder: %w", err)
		}
		out = append(out, safetensors.Tensor{Name: "bert." + rest, Shape: shape, F32: data})
	}
	pooler := head.Pooler
	if pooler == nil {
		w, err1 := ckpt.read(ckpt.prefix+"pooler.dense.weight", cfg.HiddenSize, cfg.HiddenSize)
		b, err2 := ckpt.read(ckpt.prefix+"pooler.dense.bias", cfg.HiddenSize)
		if err := firstError(err1, err2); err != nil {
			return fmt.Errorf("encoder: export %s: the head has no pooler and the base has none: %w", dir, err)
		}
		pooler = &Linear{Weight: w, Bias: b, Out: cfg.HiddenSize, In: cfg.HiddenSize}
	}
	out = append(out,
		safetensors.Tensor{Name: "bert.pooler.dense.weight", Shape: []int{pooler.Out, pooler.In}, F32: pooler.Weight},
		safetensors.Tensor{Name: "bert.pooler.dense.bias", Shape: []int{pooler.Out}, F32: pooler.Bias},
		safetensors.Tensor{Name: "classifier.weight", Shape: []int{head.Classifier.Out, head.Classifier.In}, F32: head.Classifier.Weight},
		safetensors.Tensor{Name: "classifier.bias", Shape: []int{head.Classifier.Out}, F32: head.Classifier.Bias})

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("encoder: export: %w", err)
	}
	if err := writeExportConfig(base, dir, &head); err != nil {
		return err
	}
	if err := writeTokenizerConfig(base, dir, maxLen); err != nil {
		return err
	}
	for _, name := range tokenizerFiles {
		b, err := os.ReadFile(filepath.Join(base, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil {
			err = storage.WriteFile(context.Background(), filepath.Join(dir, name), b)
		}
		if err != nil {
			return fmt.Errorf("encoder: export: %w", err)
		}
	}
	return safetensors.WriteFile(filepath.Join(dir, weightsFile), out, map[string]string{"format": "pt"})
}

// checkHead checks the head's shapes against cfg and fills its labels.
func checkHead(cfg *Config, h *Head) error {
	H := cfg.HiddenSize
	if p := h.Pooler; p != nil && (p.Out != H || p.In != H || len(p.Weight) != H*H || len(p.Bias) != H) {
		return fmt.Errorf("pooler is %d×%d with %d weights and %d biases, want %d×%d", p.Out, p.In, len(p.Weight), len(p.Bias), H, H)
	}
	c := &h.Classifier
	if c.Out <= 0 || c.In != H || len(c.Weight) != c.Out*H || len(c.Bias) != c.Out {
		return fmt.Errorf("classifier is %d×%d with %d weights and %d biases, want labels×%d", c.Out, c.In, len(c.Weight), len(c.Bias), H)
	}
	if h.Labels == nil {
		for i := range c.Out {
			h.Labels = append(h.Labels, "LABEL_"+strconv.Itoa(i))
		}
	}
	if len(h.Labels) != c.Out {
		return fmt.Errorf("%d labels for %d classifier outputs", len(h.Labels), c.Out)
	}
	seen := map[string]bool{}
	for _, l := range h.Labels {
		if l == "" || seen[l] {
			return fmt.Errorf("labels %q are empty or repeated", h.Labels)
		}
		seen[l] = true
	}
	switch h.ProblemType {
	case ProblemRegression, ProblemSingleLabel, ProblemMultiLabel:
	default:
		return fmt.Errorf("problem type %q is not one of %q, %q, %q", h.ProblemType, ProblemRegression, ProblemSingleLabel, ProblemMultiLabel)
	}
	return nil
}

// writeExportConfig writes base's config.json with the head's fields.
func writeExportConfig(base, dir string, h *Head) error {
	src := filepath.Join(base, "config.json")
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("encoder: export: %w", err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("encoder: export: parse %s: %w", src, err)
	}
	id2label, label2id := map[string]string{}, map[string]int{}
	for i, l := range h.Labels {
		id2label[strconv.Itoa(i)] = l
		label2id[l] = i
	}
	cfg["architectures"] = []string{ArchSequenceClassification}
	cfg["model_type"] = "bert"
	cfg["num_labels"] = len(h.Labels)
	cfg["id2label"] = id2label
	cfg["label2id"] = label2id
	cfg["problem_type"] = h.ProblemType
	cfg["torch_dtype"] = "float32"
	b, err = json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("encoder: export: %w", err)
	}
	return storage.WriteFile(context.Background(), filepath.Join(dir, "config.json"), append(b, '\n'))
}

// writeTokenizerConfig writes base's tokenizer_config.json (or an empty
// one) with model_max_length set to maxLen.
func writeTokenizerConfig(base, dir string, maxLen int) error {
	src := filepath.Join(base, "tokenizer_config.json")
	tc := map[string]any{}
	b, err := os.ReadFile(src)
	if err == nil {
		err = json.Unmarshal(b, &tc)
	} else if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("encoder: export: %s: %w", src, err)
	}
	tc["model_max_length"] = maxLen
	if b, err = json.MarshalIndent(tc, "", "  "); err != nil {
		return fmt.Errorf("encoder: export: %w", err)
	}
	return storage.WriteFile(context.Background(), filepath.Join(dir, "tokenizer_config.json"), append(b, '\n'))
}

// sameDir reports whether a and b are the same existing directory.
func sameDir(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}
