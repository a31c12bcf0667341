// Package flow runs a Datashop-style experiment from one YAML file: sample
// an annotation pool from a corpus, annotate it with an LLM (or read
// existing labels), transform, balance and split the labels, train one or
// more classifiers of any kind the train stage knows, select the best, and
// filter the corpus with it.
//
// Every step writes under the experiment directory in a folder named after
// the step and a fingerprint of its work (its options, the fingerprints of
// the steps it reads, the identity of external inputs and the code
// version). A step whose folder holds a completion record with the same
// fingerprint is skipped, so editing one option reruns only the steps that
// depend on it, and a killed flow resumes: completed steps are skipped and
// the interrupted one resumes from its committed shards. Every run writes
// report.json and report.html (see WriteReport).
package flow

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/dustin/go-humanize"
	"go.yaml.in/yaml/v3"

	"github.com/winnowlabs/winnow/models"
	"github.com/winnowlabs/winnow/models/fasttext"
	"github.com/winnowlabs/winnow/models/head"
	"github.com/winnowlabs/winnow/pipelines/filter/scoring"
	"github.com/winnowlabs/winnow/pipelines/runner"
	"github.com/winnowlabs/winnow/pipelines/train"
	"github.com/winnowlabs/winnow/transforms/normalize"
	"github.com/winnowlabs/winnow/transforms/prompts"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/storage"
)

// Spec is a flow file.
type Spec struct {
	// Name names the experiment in the report (default: the file's base
	// name).
	Name string `yaml:"name" json:"name"`
	// Experiment is the experiment directory, relative to the current
	// directory (default work/<name>).
	Experiment string `yaml:"experiment" json:"experiment"`
	// Pool is the corpus the flow samples, annotates and filters.
	Pool Pool `yaml:"pool" json:"pool"`
	// Sample, when set, draws the annotation sample from the pool.
	Sample *Sample `yaml:"sample" json:"sample,omitempty"`
	// Annotate, when set, labels the sample with an LLM; otherwise Label
	// reads labels the rows already carry.
	Annotate *Annotator `yaml:"annotate" json:"annotate,omitempty"`
	// Label selects and transforms the label (and the text).
	Label *Label `yaml:"label" json:"label,omitempty"`
	// Balance, when set, keeps as many rows of every label as of the
	// rarest, per split.
	Balance *Balance `yaml:"balance" json:"balance,omitempty"`
	// Split carves the labelled rows into train, test (and valid) splits.
	Split *Split `yaml:"split" json:"split,omitempty"`
	// Classifiers are trained on the split and evaluated on its test rows.
	Classifiers []Classifier `yaml:"classifiers" json:"classifiers,omitempty"`
	// Select chooses the classifier that filters.
	Select *Select `yaml:"select" json:"select,omitempty"`
	// Filter scores the corpus with the selected classifier and keeps rows.
	Filter *Filter `yaml:"filter" json:"filter,omitempty"`
	// Runner holds Beam flags, for every step or per step.
	Runner *Runner `yaml:"runner" json:"runner,omitempty"`

	file string
	root *yaml.Node
}

// Pool is the corpus.
type Pool struct {
	// Inputs are dataset directories, globs or shard files.
	Inputs []string `yaml:"inputs" json:"inputs"`
}

// Sample draws the annotation sample: a rate or a size in bytes.
type Sample struct {
	Rate float64 `yaml:"rate" json:"rate,omitempty"`
	Size string  `yaml:"size" json:"size,omitempty"`
	Seed int64   `yaml:"seed" json:"seed"`
}

// Annotator is an OpenAI-compatible endpoint and a rubric prompt.
type Annotator struct {
	BaseURL   string `yaml:"endpoint" json:"endpoint"`
	APIKeyEnv string `yaml:"api_key_env" json:"api_key_env,omitempty"`
	Model     string `yaml:"model" json:"model"`
	// Prompt is a bundled prompt's name or a prompt file.
	Prompt    string `yaml:"prompt" json:"prompt"`
	Processor string `yaml:"processor" json:"processor,omitempty"`
	// Field receives the annotation (default: the prompt's name).
	Field string `yaml:"field" json:"field,omitempty"`
	// Budget stops sending once this many dollars were spent (0: none).
	Budget float64 `yaml:"budget" json:"budget,omitempty"`
	// Batch sends through the Batch API.
	Batch         bool     `yaml:"batch" json:"batch,omitempty"`
	Concurrency   int      `yaml:"concurrency" json:"concurrency,omitempty"`
	MaxAttempts   int      `yaml:"max_attempts" json:"max_attempts,omitempty"`
	Temperature   *float64 `yaml:"temperature" json:"temperature,omitempty"`
	MaxNewTokens  int      `yaml:"max_new_tokens" json:"max_new_tokens,omitempty"`
	MaxTextLength int      `yaml:"max_text_length" json:"max_text_length,omitempty"`
	// CacheDir is the response cache (default winnow's).
	CacheDir string `yaml:"cache_dir" json:"-"`
	// Prices is a price table file (default the bundled one).
	Prices string `yaml:"prices" json:"prices,omitempty"`
	// ExistingLabel, when set, is the jq expression of a label the rows
	// already carry (e.g. .int_score): the agreement step compares the
	// annotation's score (.FIELD.score) with it on the annotated rows.
	ExistingLabel string `yaml:"existing_label" json:"existing_label,omitempty"`
	// ID is the jq expression of a row's unique id, which pairs the two
	// labels of a row (default .id).
	ID string `yaml:"id" json:"id,omitempty"`
}

// Label selects the text and the label of every row.
type Label struct {
	// Text is the jq expression of the text (default .text).
	Text string `yaml:"text" json:"text,omitempty"`
	// Expression is the jq expression of the label: an existing label, or
	// the annotation (default: the annotation's field).
	Expression string `yaml:"expression" json:"expression,omitempty"`
	// Transform, when set, is jq applied to the label (e.g. binarization:
	// 'if . >= 3 then "pos" else "neg" end').
	Transform string `yaml:"transform" json:"transform,omitempty"`
}

// Balance keeps the labels' rows even.
type Balance struct {
	Seed int64 `yaml:"seed" json:"seed"`
}

// Split carves the labelled rows into splits.
type Split struct {
	// Test and Valid are fractions (< 1) or row counts.
	Test  float64 `yaml:"test" json:"test"`
	Valid float64 `yaml:"valid" json:"valid,omitempty"`
	// Files is the number of shards (default 4).
	Files int   `yaml:"files" json:"files"`
	Seed  int64 `yaml:"seed" json:"seed"`
}

// Classifier is one model to train.
type Classifier struct {
	// Name names the classifier (its model directory and in the report).
	Name string `yaml:"name" json:"name"`
	// Kind is a train-stage kind: fasttext, model2vec, contrastive or
	// encoder.
	Kind string `yaml:"kind" json:"kind"`
	// Options are the kind's options (see FastTextOptions, StaticOptions
	// and EncoderOptions).
	Options yaml.Node `yaml:"options" json:"-"`

	fastText *FastTextOptions
	static   *StaticOptions
	encoder  *EncoderOptions
}

// FastTextOptions are a fastText classifier's options in a flow file.
type FastTextOptions struct {
	// Normalization names the text normalizer (default plsfix).
	Normalization string  `yaml:"normalization" json:"normalization"`
	Dim           int     `yaml:"dim" json:"dim"`
	Epoch         int     `yaml:"epoch" json:"epoch"`
	LR            float64 `yaml:"lr" json:"lr"`
	WordNgrams    int     `yaml:"word_ngrams" json:"word_ngrams"`
	MinCount      int     `yaml:"min_count" json:"min_count"`
	Bucket        int     `yaml:"bucket" json:"bucket"`
	Minn          int     `yaml:"minn" json:"minn"`
	Maxn          int     `yaml:"maxn" json:"maxn"`
	Loss          string  `yaml:"loss" json:"loss"`
	Thread        int     `yaml:"thread" json:"thread"`
	Seed          int     `yaml:"seed" json:"seed"`
}

// StaticOptions are a Model2Vec or contrastive classifier's options in a
// flow file.
type StaticOptions struct {
	Base        string  `yaml:"base" json:"base,omitempty"`
	FromScratch bool    `yaml:"from_scratch" json:"from_scratch,omitempty"`
	Tokenizer   string  `yaml:"tokenizer" json:"tokenizer,omitempty"`
	Dim         int     `yaml:"dim" json:"dim,omitempty"`
	Finetune    bool    `yaml:"finetune" json:"finetune,omitempty"`
	Regression  bool    `yaml:"regression" json:"regression,omitempty"`
	Normalizer  string  `yaml:"normalizer" json:"normalizer,omitempty"`
	Hidden      []int   `yaml:"hidden" json:"hidden,omitempty"`
	LR          float64 `yaml:"lr" json:"lr,omitempty"`
	BatchSize   int     `yaml:"batch_size" json:"batch_size,omitempty"`
	MaxEpochs   int     `yaml:"max_epochs" json:"max_epochs,omitempty"`
	Patience    int     `yaml:"patience" json:"patience,omitempty"`
	ClassWeight string  `yaml:"class_weight" json:"class_weight,omitempty"`
	Clusters    int     `yaml:"clusters" json:"clusters,omitempty"`
	Margin      float64 `yaml:"margin" json:"margin,omitempty"`
	Seed        uint64  `yaml:"seed" json:"seed"`
	Backend     string  `yaml:"backend" json:"backend,omitempty"`
}

// EncoderOptions are an encoder classifier's options in a flow file:
// FineWeb-Edu's recipe, a BERT pooler and a linear layer trained on a
// frozen encoder's [CLS] states (see train.EncoderOptions). Zero values
// take the recipe's: learning rate 3e-4 decaying linearly to 0, batch size
// 256, 20 epochs, no early stopping, a regressor over 0 to 5.
type EncoderOptions struct {
	// Base is a local Hugging Face BERT directory or a Hub name
	// (hf://OWNER/NAME).
	Base string `yaml:"base" json:"base"`
	// NumLabels, when at least 2, trains a classifier of that many labels
	// instead of a regressor of numeric labels.
	NumLabels int `yaml:"num_labels" json:"num_labels,omitempty"`
	// Range is a regressor's score range [min, max], which int_score is
	// clipped to.
	Range        []float64 `yaml:"range" json:"range,omitempty"`
	LR           float64   `yaml:"lr" json:"lr,omitempty"`
	WeightDecay  float64   `yaml:"weight_decay" json:"weight_decay,omitempty"`
	BatchSize    int       `yaml:"batch_size" json:"batch_size,omitempty"`
	Epochs       int       `yaml:"epochs" json:"epochs,omitempty"`
	Patience     int       `yaml:"patience" json:"patience,omitempty"`
	ConstantRate bool      `yaml:"constant_rate" json:"constant_rate,omitempty"`
	Seed         uint64    `yaml:"seed" json:"seed"`
	// Backend is the GoMLX backend ("go", "xla:cuda" or
	// "xla:/abs/path/plugin.so") of training, evaluation and the filter;
	// ForwardBatchSize (texts per forward pass) and MaxLength (the tokens
	// texts are truncated to) tune the encoder's forward pass in all three.
	Backend          string `yaml:"backend" json:"backend,omitempty"`
	ForwardBatchSize int    `yaml:"forward_batch_size" json:"forward_batch_size,omitempty"`
	MaxLength        int    `yaml:"max_length" json:"max_length,omitempty"`
}

// Select chooses the filtering classifier: the best by Metric, or the one
// named Classifier.
type Select struct {
	Metric     string `yaml:"metric" json:"metric,omitempty"`
	Classifier string `yaml:"classifier" json:"classifier,omitempty"`
}

// Filter is the keep rule over the corpus: exactly one of KeepFraction,
// Threshold and Expression.
type Filter struct {
	// Inputs are the corpus to filter (default the pool).
	Inputs       []string `yaml:"inputs" json:"inputs,omitempty"`
	KeepFraction float64  `yaml:"keep_fraction" json:"keep_fraction,omitempty"`
	Threshold    *float64 `yaml:"threshold" json:"threshold,omitempty"`
	Expression   string   `yaml:"jq" json:"jq,omitempty"`
	// Incremental filters only shards not filtered before (a threshold or
	// jq rule; a keep fraction is global).
	Incremental bool  `yaml:"incremental" json:"incremental,omitempty"`
	Seed        int64 `yaml:"seed" json:"seed,omitempty"`
}

// Runner holds Beam flags (name: value, without dashes) for every step,
// and per step by step kind (sample, annotate, agreement, label, balance,
// split, train, filter). A step's flag takes the place of the flow's flag of
// the same name. A list flag (resource_hints) takes a list of values or one
// value, and holds exactly those during the step.
type Runner struct {
	Flags map[string]FlagValue            `yaml:"flags" json:"flags,omitempty"`
	Steps map[string]map[string]FlagValue `yaml:"steps" json:"steps,omitempty"`
}

// FlagValue is a Beam flag's value in a flow file: one value, or several
// for a list flag.
type FlagValue []string

// UnmarshalYAML reads a scalar or a list of scalars.
func (v *FlagValue) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*v = FlagValue{n.Value}
		return nil
	case yaml.SequenceNode:
		vals := make(FlagValue, 0, len(n.Content))
		for _, e := range n.Content {
			if e.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: a flag's list holds values, not a %s", e.Line, yamlNodeKind(e))
			}
			vals = append(vals, e.Value)
		}
		*v = vals
		return nil
	}
	return fmt.Errorf("line %d: a flag's value is a value or a list of values, not a %s", n.Line, yamlNodeKind(n))
}

func yamlNodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

// Metrics a selection may rank classifiers by; the lower-is-better ones
// are marked.
var Metrics = map[string]bool{
	"roc_auc": false, "accuracy": false, "macro_f1": false, "weighted_f1": false,
	"spearman": false, "mse": true, "mae": true,
}

// StepNames are the names of the flow's steps, in order.
var StepNames = []string{"sample", "annotate", "agreement", "label", "balance", "split", "train", "select", "filter"}

// Load reads and validates the flow file at path.
func Load(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read flow: %w", err)
	}
	return Parse(path, b)
}

// Parse validates a flow file's contents; file names it in errors and
// anchors its relative paths. Errors name the file, line and key.
func Parse(file string, data []byte) (*Spec, error) {
	s := &Spec{file: file}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %s", file, yamlMessage(err))
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: the flow file is empty", file)
	}
	s.root = root.Content[0]
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("%s: %s", file, yamlMessage(err))
	}
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	if s.Experiment == "" {
		s.Experiment = filepath.Join("work", s.Name)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// yamlTypes names the sections for yaml's "in type flow.X" messages.
var yamlTypes = map[string]string{
	"flow.Spec": "the flow", "flow.Pool": "pool", "flow.Sample": "sample", "flow.Annotator": "annotate",
	"flow.Label": "label", "flow.Balance": "balance", "flow.Split": "split", "flow.Classifier": "a classifier",
	"flow.FastTextOptions": "fasttext options", "flow.StaticOptions": "the classifier's options",
	"flow.EncoderOptions": "encoder options",
	"flow.Select":         "select", "flow.Filter": "filter", "flow.Runner": "runner",
}

var (
	reUnknown = regexp.MustCompile(`field (\S+) not found in type (\S+)`)
	reType    = regexp.MustCompile("cannot unmarshal !!(\\w+) `([^`]*)` into (\\S+)")
)

// yamlMessage rewrites yaml's messages in the flow's terms.
func yamlMessage(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		m = reUnknown.ReplaceAllStringFunc(m, func(s string) string {
			g := reUnknown.FindStringSubmatch(s)
			where := yamlTypes[g[2]]
			if where == "" {
				where = g[2]
			}
			return fmt.Sprintf("unknown key %q in %s", g[1], where)
		})
		m = reType.ReplaceAllStringFunc(m, func(s string) string {
			g := reType.FindStringSubmatch(s)
			return fmt.Sprintf("%q is a %s where %s is wanted", g[2], yamlKind(g[1]), goKind(g[3]))
		})
		msgs[i] = m
	}
	return strings.Join(msgs, "; ")
}

func yamlKind(tag string) string {
	switch tag {
	case "str":
		return "string"
	case "seq":
		return "list"
	case "map":
		return "mapping"
	case "int", "float":
		return "number"
	}
	return tag
}

func goKind(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a mapping"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	}
	return "a " + yamlTypes[strings.TrimPrefix(t, "*")]
}

// at is an error about the value at path (keys, or list indexes as
// "[i]"), naming the file and line.
func (s *Spec) at(path string, format string, args ...any) error {
	line := 0
	if n := s.node(path); n != nil {
		line = n.Line
	}
	msg := fmt.Sprintf(format, args...)
	if line > 0 {
		return fmt.Errorf("%s:%d: %s: %s", s.file, line, path, msg)
	}
	return fmt.Errorf("%s: %s: %s", s.file, path, msg)
}

// node finds the value at a dotted path such as "classifiers[1].kind";
// a missing key gives its nearest present parent.
func (s *Spec) node(path string) *yaml.Node {
	n := s.root
	for _, part := range strings.Split(path, ".") {
		key, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 {
			key = part[:i]
			fmt.Sscanf(part[i:], "[%d]", &idx)
		}
		next := mapValue(n, key)
		if next == nil {
			return n
		}
		n = next
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return n
			}
			n = n.Content[idx]
		}
	}
	return n
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// path resolves a path of the flow file: relative paths are relative to
// the current directory (flows are run from the repository's root).
func exists(p string) bool {
	if strings.Contains(p, "://") {
		return true // checked when read
	}
	if strings.ContainsAny(p, "*?[") {
		m, _ := filepath.Glob(p)
		return len(m) > 0
	}
	_, err := os.Stat(p)
	return err == nil
}

func (s *Spec) validate() error {
	if len(s.Pool.Inputs) == 0 {
		return s.at("pool.inputs", "give the corpus: one or more dataset directories, globs or shard files")
	}
	for i, in := range s.Pool.Inputs {
		if !exists(in) {
			return s.at(fmt.Sprintf("pool.inputs[%d]", i), "%s does not exist", in)
		}
	}
	if sm := s.Sample; sm != nil {
		if (sm.Rate == 0) == (sm.Size == "") {
			return s.at("sample", "give either rate or size")
		}
		if sm.Rate != 0 && (math.IsNaN(sm.Rate) || sm.Rate <= 0 || sm.Rate > 1) {
			return s.at("sample.rate", "%v is not in (0, 1]", sm.Rate)
		}
		if sm.Size != "" {
			if _, err := humanize.ParseBytes(sm.Size); err != nil {
				return s.at("sample.size", "%q is not a size such as 2MB or 1GiB", sm.Size)
			}
		}
	}
	if a := s.Annotate; a != nil {
		if a.Model == "" {
			return s.at("annotate", "give the model")
		}
		if a.Prompt == "" {
			return s.at("annotate", "give the prompt: a bundled prompt's name (%s) or a prompt file", strings.Join(prompts.Names(), ", "))
		}
		p, err := prompts.Resolve(a.Prompt)
		if err != nil {
			return s.at("annotate.prompt", "%v (bundled prompts: %s)", err, strings.Join(prompts.Names(), ", "))
		}
		if _, err := prompts.NewProcessor(a.Processor, p); err != nil {
			return s.at("annotate.processor", "%v", err)
		}
		if a.Budget < 0 {
			return s.at("annotate.budget", "%v is negative", a.Budget)
		}
		if a.Prices != "" && !exists(a.Prices) {
			return s.at("annotate.prices", "%s does not exist", a.Prices)
		}
		for _, e := range []struct{ key, expr string }{{"annotate.existing_label", a.ExistingLabel}, {"annotate.id", a.ID}} {
			if e.expr == "" {
				continue
			}
			if _, err := rows.Compile(e.expr); err != nil {
				return s.at(e.key, "%v", err)
			}
		}
		if a.ID != "" && a.ExistingLabel == "" {
			return s.at("annotate.id", "the id pairs the annotation with an existing label: give existing_label too")
		}
	}
	if len(s.Classifiers) == 0 {
		// A labelling flow stops after annotation.
		for _, k := range []string{"balance", "split", "select", "filter"} {
			if mapValue(s.root, k) != nil {
				return s.at(k, "needs classifiers: a flow without classifiers stops after labelling")
			}
		}
		if s.Annotate == nil && s.Label == nil {
			return s.at("pool", "the flow does nothing: give annotate, or label and classifiers")
		}
	}
	if s.Label == nil {
		s.Label = &Label{}
	}
	if s.Label.Expression == "" && s.Annotate == nil && len(s.Classifiers) > 0 {
		return s.at("label", "give label.expression (the existing label) or an annotator")
	}
	for _, e := range []struct{ key, expr string }{
		{"label.text", s.Label.Text}, {"label.expression", s.Label.Expression}, {"label.transform", s.Label.Transform},
	} {
		if e.expr == "" {
			continue
		}
		if _, err := rows.Compile(e.expr); err != nil {
			return s.at(e.key, "%v", err)
		}
	}
	if len(s.Classifiers) == 0 {
		return s.validateRunner()
	}
	if s.Split == nil {
		return s.at("split", "classifiers need a split: give split.test (a fraction or a row count)")
	}
	if s.Split.Test <= 0 {
		return s.at("split.test", "give a positive fraction or row count")
	}
	if s.Split.Valid < 0 {
		return s.at("split.valid", "%v is negative", s.Split.Valid)
	}
	if s.Split.Files == 0 {
		s.Split.Files = 4
	}
	if s.Split.Files < 0 {
		return s.at("split.files", "%d is not a number of files", s.Split.Files)
	}
	names := map[string]bool{}
	for i := range s.Classifiers {
		if err := s.validateClassifier(i, names); err != nil {
			return err
		}
	}
	if s.Select == nil {
		if len(s.Classifiers) > 1 {
			return s.at("select", "several classifiers: give select.metric (%s) or select.classifier", metricNames())
		}
		s.Select = &Select{Classifier: s.Classifiers[0].Name}
	}
	switch {
	case s.Select.Metric != "" && s.Select.Classifier != "":
		return s.at("select", "give metric or classifier, not both")
	case s.Select.Metric != "":
		if _, ok := Metrics[s.Select.Metric]; !ok {
			return s.at("select.metric", "unknown metric %q (known: %s)", s.Select.Metric, metricNames())
		}
	case s.Select.Classifier != "":
		if !names[s.Select.Classifier] {
			return s.at("select.classifier", "no classifier is named %q", s.Select.Classifier)
		}
	default:
		return s.at("select", "give metric or classifier")
	}
	if f := s.Filter; f != nil {
		for i, in := range f.Inputs {
			if !exists(in) {
				return s.at(fmt.Sprintf("filter.inputs[%d]", i), "%s does not exist", in)
			}
		}
		n := 0
		if f.KeepFraction != 0 {
			n++
			if f.KeepFraction < 0 || f.KeepFraction > 1 {
				return s.at("filter.keep_fraction", "%v is not in (0, 1]", f.KeepFraction)
			}
			if f.Incremental {
				return s.at("filter.incremental", "a keep fraction is global, so its cut moves as the corpus grows; filter incrementally with a threshold at the cut a keep-fraction run reported")
			}
		}
		if f.Threshold != nil {
			n++
		}
		if f.Expression != "" {
			n++
			if err := (scoring.Selection{Expression: f.Expression}).Validate(); err != nil {
				return s.at("filter.jq", "%v", err)
			}
		}
		if n != 1 {
			return s.at("filter", "give exactly one keep rule: keep_fraction, threshold or jq")
		}
	}
	return s.validateRunner()
}

func metricNames() string {
	var names []string
	for m := range Metrics {
		names = append(names, m)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func (s *Spec) validateClassifier(i int, names map[string]bool) error {
	c := &s.Classifiers[i]
	key := fmt.Sprintf("classifiers[%d]", i)
	if c.Kind == "" {
		return s.at(key, "give the kind (%s)", strings.Join(train.Kinds(), ", "))
	}
	if !slices.Contains(train.Kinds(), c.Kind) {
		return s.at(key+".kind", "unknown kind %q (known: %s)", c.Kind, strings.Join(train.Kinds(), ", "))
	}
	if c.Name == "" {
		c.Name = c.Kind
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]+$`).MatchString(c.Name) {
		return s.at(key+".name", "%q: use letters, digits, '-' and '_'", c.Name)
	}
	if names[c.Name] {
		return s.at(key+".name", "two classifiers are named %q", c.Name)
	}
	names[c.Name] = true
	decode := func(v any) error {
		if c.Options.Kind == 0 {
			return nil
		}
		// Decode the options alone, strictly, to name unknown keys.
		b, err := yaml.Marshal(&c.Options)
		if err != nil {
			return s.at(key+".options", "%v", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(v); err != nil {
			return s.at(key+".options", "%s", regexp.MustCompile(`line \d+: `).ReplaceAllString(yamlMessage(err), ""))
		}
		return nil
	}
	switch c.Kind {
	case models.KindFastText:
		c.fastText = &FastTextOptions{Normalization: normalize.Plsfix, Dim: 64, Epoch: 25, LR: 1.0, WordNgrams: 2, MinCount: 1, Bucket: 500_000, Thread: 1, Seed: 42}
		if err := decode(c.fastText); err != nil {
			return err
		}
		if !slices.Contains(normalize.Names(), c.fastText.Normalization) {
			return s.at(key+".options.normalization", "unknown normalizer %q (known: %s)", c.fastText.Normalization, strings.Join(normalize.Names(), ", "))
		}
		if _, err := c.fastText.args(); err != nil {
			return s.at(key+".options", "%v", err)
		}
	case models.KindModel2Vec, models.KindContrastive:
		c.static = &StaticOptions{Seed: 42}
		if err := decode(c.static); err != nil {
			return err
		}
		o := c.static
		if o.FromScratch == (o.Base != "") {
			return s.at(key+".options", "give a base model (base) or from_scratch with a tokenizer")
		}
		if o.FromScratch && (o.Tokenizer == "" || !exists(o.Tokenizer)) {
			return s.at(key+".options.tokenizer", "from_scratch needs an existing tokenizer.json, not %q", o.Tokenizer)
		}
		if o.Base != "" && !exists(o.Base) {
			return s.at(key+".options.base", "%s does not exist", o.Base)
		}
		if o.Normalizer != "" && !slices.Contains(normalize.Names(), o.Normalizer) {
			return s.at(key+".options.normalizer", "unknown normalizer %q (known: %s)", o.Normalizer, strings.Join(normalize.Names(), ", "))
		}
		switch head.ClassWeighting(o.ClassWeight) {
		case "", head.Uniform, head.Balanced, head.Sqrt:
		default:
			return s.at(key+".options.class_weight", "%q: want uniform, balanced or sqrt", o.ClassWeight)
		}
	case models.KindEncoder:
		c.encoder = &EncoderOptions{}
		if err := decode(c.encoder); err != nil {
			return err
		}
		return s.validateEncoder(key+".options", c.encoder)
	default:
		return s.at(key+".kind", "kind %q has no flow options; train it with its command and filter with `winnow filter`", c.Kind)
	}
	return nil
}

// validateEncoder checks an encoder classifier's options (at key).
func (s *Spec) validateEncoder(key string, o *EncoderOptions) error {
	switch {
	case o.Base == "":
		return s.at(key, "give the base encoder (base): a local Hugging Face BERT directory or hf://OWNER/NAME")
	case !exists(o.Base):
		return s.at(key+".base", "%s does not exist", o.Base)
	case o.NumLabels == 1 || o.NumLabels < 0:
		return s.at(key+".num_labels", "%d: give at least 2 for a classifier, or leave it out for a regressor", o.NumLabels)
	}
	if o.Range != nil {
		switch {
		case o.NumLabels >= 2:
			return s.at(key+".range", "a score range applies to a regressor, not a classifier of %d labels", o.NumLabels)
		case len(o.Range) != 2 || !(o.Range[0] < o.Range[1]) || math.IsInf(o.Range[0], 0) || math.IsInf(o.Range[1], 0):
			return s.at(key+".range", "%v is not an interval [min, max]", o.Range)
		}
	}
	for _, v := range []struct {
		name  string
		value float64
	}{
		{"lr", o.LR}, {"weight_decay", o.WeightDecay}, {"batch_size", float64(o.BatchSize)}, {"epochs", float64(o.Epochs)},
		{"patience", float64(o.Patience)}, {"forward_batch_size", float64(o.ForwardBatchSize)}, {"max_length", float64(o.MaxLength)},
	} {
		if v.value < 0 || math.IsNaN(v.value) {
			return s.at(key+"."+v.name, "%v is negative", v.value)
		}
	}
	if b := o.Backend; b != "" && b != "go" && !strings.HasPrefix(b, "xla:") {
		return s.at(key+".backend", "%q: want go, xla:cuda or xla:/abs/path/plugin.so", b)
	}
	return nil
}

func (s *Spec) validateRunner() error {
	if s.Runner == nil {
		return nil
	}
	if err := s.validateFlags("runner.flags", s.Runner.Flags); err != nil {
		return err
	}
	for _, name := range sortedKeys(s.Runner.Steps) {
		if !slices.Contains(StepNames, name) {
			return s.at("runner.steps."+name, "unknown step %q (steps: %s)", name, strings.Join(StepNames, ", "))
		}
		if err := s.validateFlags("runner.steps."+name, s.Runner.Steps[name]); err != nil {
			return err
		}
	}
	return nil
}

// validateFlags checks that the flags (at key) are Beam's, and that only
// list flags have several values.
func (s *Spec) validateFlags(key string, flags map[string]FlagValue) error {
	for _, name := range sortedKeys(flags) {
		f := flag.CommandLine.Lookup(strings.TrimLeft(name, "-"))
		if f == nil {
			return s.at(key+"."+name, "unknown Beam flag %q", name)
		}
		if len(flags[name]) != 1 && !isListFlag(f.Value) {
			return s.at(key+"."+name, "%s takes one value, not %d", name, len(flags[name]))
		}
	}
	return nil
}

// args are a fastText classifier's training arguments.
func (o *FastTextOptions) args() (fasttext.Args, error) {
	a := fasttext.ClassifierArgs()
	a.Dim, a.Epoch, a.LR, a.WordNgrams, a.MinCount, a.Bucket = o.Dim, o.Epoch, o.LR, o.WordNgrams, o.MinCount, o.Bucket
	a.Minn, a.Maxn, a.Thread, a.Seed = o.Minn, o.Maxn, o.Thread, o.Seed
	if o.Loss != "" {
		l, err := fasttext.ParseLoss(o.Loss)
		if err != nil {
			return a, err
		}
		a.Loss = l
	}
	if a.Dim < 1 || a.Epoch < 1 || a.LR <= 0 || a.WordNgrams < 1 || a.Thread < 1 {
		return a, errors.New("dim, epoch, word_ngrams and thread must be at least 1 and lr positive")
	}
	return a, nil
}

// checkShared refuses, before anything runs, paths that the workers of a
// step cannot reach. When a step's Beam flags name a runner whose workers
// run outside this process, the experiment directory, where the step
// writes, and the corpus it reads must be storage they share: memfs:// never
// is, and a local path is refused where the workers are certainly other
// machines (Dataflow) and warned about (on warn) elsewhere, since a job
// server's workers may mount it at the same path.
func (s *Spec) checkShared(steps []*Step, warn io.Writer) error {
	type keyed struct{ key, path string }
	paths := []keyed{{"experiment", s.Experiment}}
	for i, in := range s.Pool.Inputs {
		paths = append(paths, keyed{fmt.Sprintf("pool.inputs[%d]", i), in})
	}
	if s.Filter != nil {
		for i, in := range s.Filter.Inputs {
			paths = append(paths, keyed{fmt.Sprintf("filter.inputs[%d]", i), in})
		}
	}
	checked := map[string]bool{}
	warned := map[string]bool{}
	for _, st := range steps {
		if checked[st.Kind] {
			continue
		}
		checked[st.Kind] = true
		restore, err := setFlags(s.Runner, st.Kind)
		if err != nil {
			return err
		}
		distributed, remote, name := runner.Distributed(), runner.Remote(), runner.Name()
		restore()
		if !distributed {
			continue
		}
		for _, p := range paths {
			switch {
			case storage.Scheme(p.path) == "memfs":
				return s.at(p.key, "%s lives in this process's memory, but step %s runs on %s, whose workers run elsewhere: put it on gs:// or s3://", p.path, st.Name, name)
			case storage.IsLocal(p.path) && remote:
				return s.at(p.key, "%s is on this machine's disk, but step %s runs on %s, whose workers are other machines: put it on gs:// or s3://", p.path, st.Name, name)
			case storage.IsLocal(p.path) && !warned[p.key]:
				warned[p.key] = true
				fmt.Fprintf(warn, "warning: %v\n", s.at(p.key, "%s is a local path, but step %s runs on %s, whose workers run in other processes: they must see it at the same path (a shared file system); put it on gs:// or s3:// otherwise", p.path, st.Name, name))
			}
		}
	}
	return nil
}
