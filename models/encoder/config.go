package encoder

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The architectures (config.json "architectures") this package runs.
const (
	// ArchSequenceClassification is a BERT encoder with its pooler and a
	// linear classifier (or regressor) on the pooled output.
	ArchSequenceClassification = "BertForSequenceClassification"
	// ArchModel is a bare BERT encoder, e.g. a sentence-transformers model.
	ArchModel = "BertModel"
)

// Problem types of a classification head (config.json "problem_type").
const (
	ProblemRegression  = "regression"
	ProblemSingleLabel = "single_label_classification"
	ProblemMultiLabel  = "multi_label_classification"
)

// Config holds the fields of a Hugging Face BERT config.json that the
// forward pass depends on.
type Config struct {
	Architectures         []string          `json:"architectures"`
	ModelType             string            `json:"model_type"`
	VocabSize             int               `json:"vocab_size"`
	HiddenSize            int               `json:"hidden_size"`
	NumHiddenLayers       int               `json:"num_hidden_layers"`
	NumAttentionHeads     int               `json:"num_attention_heads"`
	IntermediateSize      int               `json:"intermediate_size"`
	HiddenAct             string            `json:"hidden_act"`
	LayerNormEps          float64           `json:"layer_norm_eps"`
	MaxPositionEmbeddings int               `json:"max_position_embeddings"`
	TypeVocabSize         int               `json:"type_vocab_size"`
	PositionEmbeddingType string            `json:"position_embedding_type"`
	ProblemType           string            `json:"problem_type"`
	ID2Label              map[string]string `json:"id2label"`
	// NumLabels is config.json's "num_labels" when the file has one;
	// otherwise the number of id2label entries, or 2 (transformers'
	// default) when that is absent too.
	NumLabels int `json:"num_labels"`
}

// Arch returns the model's architecture.
func (c *Config) Arch() string {
	if len(c.Architectures) == 0 {
		return ""
	}
	return c.Architectures[0]
}

// Labels returns the label names in id order.
func (c *Config) Labels() []string {
	labels := make([]string, c.NumLabels)
	for i := range labels {
		if l, ok := c.ID2Label[strconv.Itoa(i)]; ok {
			labels[i] = l
		} else {
			labels[i] = "LABEL_" + strconv.Itoa(i)
		}
	}
	return labels
}

// readConfig reads and checks dir/config.json.
func readConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("encoder: %w", err)
	}
	c := &Config{LayerNormEps: 1e-12, TypeVocabSize: 2, HiddenAct: "gelu"}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("encoder: parse %s: %w", path, err)
	}
	if c.NumLabels == 0 {
		c.NumLabels = len(c.ID2Label)
	}
	if c.NumLabels == 0 {
		c.NumLabels = 2
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("encoder: %s: %w", path, err)
	}
	return c, nil
}

func (c *Config) check() error {
	if len(c.Architectures) != 1 || (c.Arch() != ArchSequenceClassification && c.Arch() != ArchModel) {
		return fmt.Errorf("architectures %q: supported are [%q] and [%q]", c.Architectures, ArchSequenceClassification, ArchModel)
	}
	if c.ModelType != "" && c.ModelType != "bert" {
		return fmt.Errorf("model_type %q is not supported (only \"bert\")", c.ModelType)
	}
	if c.PositionEmbeddingType != "" && c.PositionEmbeddingType != "absolute" {
		return fmt.Errorf("position_embedding_type %q is not supported (only \"absolute\")", c.PositionEmbeddingType)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize}, {"num_hidden_layers", c.NumHiddenLayers},
		{"num_attention_heads", c.NumAttentionHeads}, {"intermediate_size", c.IntermediateSize},
		{"max_position_embeddings", c.MaxPositionEmbeddings}, {"type_vocab_size", c.TypeVocabSize}} {
		if f.v <= 0 {
			return fmt.Errorf("%s must be positive, is %d", f.name, f.v)
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	}
	if !slices.Contains([]string{"gelu", "gelu_new", "gelu_pytorch_tanh", "relu"}, c.HiddenAct) {
		return fmt.Errorf("hidden_act %q is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)", c.HiddenAct)
	}
	if c.LayerNormEps <= 0 {
		return fmt.Errorf("layer_norm_eps must be positive, is %g", c.LayerNormEps)
	}
	switch c.ProblemType {
	case "", ProblemRegression, ProblemSingleLabel, ProblemMultiLabel:
	default:
		return fmt.Errorf("problem_type %q is not one of %q, %q, %q", c.ProblemType, ProblemRegression, ProblemSingleLabel, ProblemMultiLabel)
	}
	if len(c.ID2Label) > 0 && len(c.ID2Label) != c.NumLabels {
		return fmt.Errorf("num_labels %d but id2label has %d entries", c.NumLabels, len(c.ID2Label))
	}
	for i := range c.NumLabels {
		if len(c.ID2Label) > 0 && c.ID2Label[strconv.Itoa(i)] == "" {
			return fmt.Errorf("id2label has no label for id %d", i)
		}
	}
	return nil
}

// Pooling is how a sentence-transformers model turns token states into one
// embedding.
type Pooling string

// The poolings this package computes.
const (
	PoolCLS  Pooling = "cls"  // the last hidden state of [CLS]
	PoolMean Pooling = "mean" // the mean of the last hidden states of the tokens (padding excluded)
)

// sentenceTransformers is what a sentence-transformers directory adds to a
// BertModel: its pooling, whether embeddings are L2-normalized, and the
// maximum sequence length (0 when not given).
type sentenceTransformers struct {
	pooling   Pooling
	normalize bool
	maxSeqLen int
}

// readSentenceTransformers reads modules.json, the pooling module's
// config.json and sentence_bert_config.json of dir. A directory without
// modules.json gets mean pooling when 1_Pooling/config.json is absent too.
func readSentenceTransformers(dir string) (*sentenceTransformers, error) {
	st := &sentenceTransformers{pooling: PoolMean}
	poolDir := "1_Pooling"
	modulesPath := filepath.Join(dir, "modules.json")
	if b, err := os.ReadFile(modulesPath); err == nil {
		var modules []struct {
			Path string `json:"path"`
			Type string `json:"type"`
		}
		if err := json.Unmarshal(b, &modules); err != nil {
			return nil, fmt.Errorf("encoder: parse %s: %w", modulesPath, err)
		}
		poolDir = ""
		for _, m := range modules {
			switch m.Type {
			case "sentence_transformers.models.Transformer":
			case "sentence_transformers.models.Pooling":
				poolDir = m.Path
			case "sentence_transformers.models.Normalize":
				st.normalize = true
			default:
				return nil, fmt.Errorf("encoder: %s: module %q (%s) is not supported", modulesPath, m.Type, m.Path)
			}
		}
		if poolDir == "" {
			return nil, fmt.Errorf("encoder: %s has no sentence_transformers.models.Pooling module", modulesPath)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("encoder: %w", err)
	}
	poolPath := filepath.Join(dir, poolDir, "config.json")
	if b, err := os.ReadFile(poolPath); err == nil {
		var p map[string]any
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("encoder: parse %s: %w", poolPath, err)
		}
		var modes []string
		for k, v := range p {
			if on, _ := v.(bool); on && strings.HasPrefix(k, "pooling_mode_") {
				modes = append(modes, k)
			}
		}
		switch {
		case len(modes) == 1 && modes[0] == "pooling_mode_cls_token":
			st.pooling = PoolCLS
		case len(modes) == 1 && modes[0] == "pooling_mode_mean_tokens":
			st.pooling = PoolMean
		default:
			slices.Sort(modes)
			return nil, fmt.Errorf("encoder: %s: pooling modes %q are not supported (one of pooling_mode_cls_token, pooling_mode_mean_tokens)", poolPath, modes)
		}
	} else if !errors.Is(err, os.ErrNotExist) || poolDir != "1_Pooling" {
		return nil, fmt.Errorf("encoder: %w", err)
	}
	sbPath := filepath.Join(dir, "sentence_bert_config.json")
	if b, err := os.ReadFile(sbPath); err == nil {
		var sb struct {
			MaxSeqLength int `json:"max_seq_length"`
		}
		if err := json.Unmarshal(b, &sb); err != nil {
			return nil, fmt.Errorf("encoder: parse %s: %w", sbPath, err)
		}
		st.maxSeqLen = sb.MaxSeqLength
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("encoder: %w", err)
	}
	return st, nil
}

// maxLength returns the number of tokens, special tokens included, a text
// is truncated to: max_position_embeddings, lowered by a sentence-transformers
// model's max_seq_length (st may be nil) and by tokenizer_config.json's
// model_max_length, as transformers and sentence-transformers truncate.
func maxLength(dir string, cfg *Config, st *sentenceTransformers) (int, error) {
	n := cfg.MaxPositionEmbeddings
	if st != nil && st.maxSeqLen > 0 {
		n = min(n, st.maxSeqLen)
	}
	path := filepath.Join(dir, "tokenizer_config.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return n, nil
	}
	if err != nil {
		return 0, fmt.Errorf("encoder: %w", err)
	}
	var tc struct {
		ModelMaxLength float64 `json:"model_max_length"`
	}
	if err := json.Unmarshal(b, &tc); err != nil {
		return 0, fmt.Errorf("encoder: parse %s: %w", path, err)
	}
	// transformers writes a huge value (int(1e30)) for "no limit".
	if tc.ModelMaxLength >= 1 && tc.ModelMaxLength < float64(n) {
		n = int(tc.ModelMaxLength)
	}
	return n, nil
}
