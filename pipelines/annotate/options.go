// Package annotate is winnow's LLM annotation stage: a Beam pipeline that
// sends every row of a dataset through a rubric prompt to an OpenAI-compatible
// server and writes the rows back with the parsed answer (Run), a dry run
// that estimates tokens and cost without sending anything (DryRun), and the
// agreement between two annotation sets (Agreement).
//
// A shard is the unit of work. Each worker process holds one llm.Client, one
// response cache and one annotate.Annotator, shared by the shards it annotates
// at once, so the client's concurrency bound holds per process. A shard's
// output keeps the input's relative path and its rows in input order, each
// with a field named after the prompt (or Options.OutputField) holding the
// annotation; rows whose request failed or whose answer did not parse go to
// _errors/ with the reason and the raw answer. A shard is committed (atomic
// rename, then a completion marker under _done/ whose fingerprint covers the
// prompt, processor, model and request options) only when every row is
// annotated or failed: a shard with rows not attempted (budget reached, batch
// expired) stays uncommitted, and the next run answers its rows from the
// cache. The record-level work lives in transforms/llm.
package annotate

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/winnowlabs/winnow/pipelines/mapstep"
	"github.com/winnowlabs/winnow/pipelines/runner"
	"github.com/winnowlabs/winnow/transforms/llm"
	"github.com/winnowlabs/winnow/transforms/llm/cache"
	"github.com/winnowlabs/winnow/transforms/llm/cost"
	"github.com/winnowlabs/winnow/transforms/prompts"
	"github.com/winnowlabs/winnow/transforms/rows"
	"github.com/winnowlabs/winnow/transforms/shardmap"
)

// Options configure Run and DryRun.
type Options struct {
	mapstep.Common
	// TextExpression selects the text to annotate (default .text). A row
	// without a text is a bad row (Common.OnBadRow).
	TextExpression string `json:"text_expression"`
	// Prompt is the prompt (required); see LoadPrompt.
	Prompt *prompts.Prompt `json:"prompt"`
	// Processor reads answers (prompts.NewProcessor; "": the prompt's
	// default).
	Processor string `json:"processor,omitempty"`
	// SystemPrompt replaces the prompt's system prompt when not empty.
	SystemPrompt string `json:"system_prompt,omitempty"`
	// OutputField names the row field that receives the annotation
	// (default: the prompt's name).
	OutputField string `json:"output_field,omitempty"`

	// BaseURL is the server's API root (default OpenAI's).
	BaseURL string `json:"base_url"`
	// APIKeyEnv names the environment variable holding the API key
	// (default OPENAI_API_KEY). Every worker reads it from its own
	// environment; the key itself is never recorded.
	APIKeyEnv       string   `json:"api_key_env,omitempty"`
	Model           string   `json:"model"`
	Temperature     *float64 `json:"temperature,omitempty"`
	MaxNewTokens    int      `json:"max_new_tokens,omitempty"`
	ReasoningEffort string   `json:"reasoning_effort,omitempty"`
	ServiceTier     string   `json:"service_tier,omitempty"`
	// MaxTextLength truncates texts to this many characters, telling the
	// model how much was cut (0: whole texts).
	MaxTextLength int `json:"max_text_length,omitempty"`

	// Flow control, per worker process.
	MaxConcurrency    int           `json:"max_concurrency,omitempty"`
	RequestsPerMinute float64       `json:"max_requests_per_minute,omitempty"`
	TokensPerMinute   float64       `json:"max_tokens_per_minute,omitempty"`
	RequestTimeout    time.Duration `json:"request_timeout,omitempty"`
	MaxAttempts       int           `json:"max_attempts,omitempty"`
	// BackoffBase and BackoffMax shape the retry backoff (0: the client's
	// defaults, 1s and 1m).
	BackoffBase time.Duration `json:"backoff_base,omitempty"`
	BackoffMax  time.Duration `json:"backoff_max,omitempty"`
	// ShardsInFlight is the number of shards a worker annotates at once
	// (default 4). In batch mode each holds its shard's rows in memory.
	ShardsInFlight int `json:"shards_in_flight,omitempty"`

	// CacheDir is the response cache: local, gs:// or s3:// (default
	// cache.DefaultDir() when the workers run in this process). Workers on
	// a distributed runner need one they share.
	CacheDir string `json:"cache_dir"`
	// Prices prices answers (default cost.Default()); PriceFile, where
	// they were read from, is only recorded.
	Prices    *cost.Table `json:"prices,omitempty"`
	PriceFile string      `json:"price_file,omitempty"`
	// MaxBudget stops sending once this many dollars were spent (0: no
	// limit). It is enforced per worker process.
	MaxBudget float64 `json:"max_budget,omitempty"`
	// RetryErrors sends again the rows whose request failed or whose answer
	// did not parse in an earlier run (and re-opens the shards holding them).
	RetryErrors bool `json:"retry_errors,omitempty"`
	// Batch sends requests through the Batch API, one set of batches per
	// shard, resumable from the state files under <output>/_batch/.
	Batch bool `json:"batch,omitempty"`
	// BatchPollInterval is the first interval between batch polls (default
	// 10s, growing to 5m).
	BatchPollInterval time.Duration `json:"batch_poll_interval,omitempty"`
}

// Defaults of Options.
const (
	DefaultShardsInFlight = 4
	// BatchDir holds the Batch API state files, one per shard.
	BatchDir = "_batch"
)

// workerConfig is what a worker process needs: the options with their
// defaults resolved on the driver (the API key is not among them).
type workerConfig struct {
	Options
	// RunID tells the runs of one process apart (tests, repeated runs).
	RunID       string          `json:"run_id"`
	Fingerprint string          `json:"fingerprint"`
	OutputDir   string          `json:"output_dir"`
	Policy      shardmap.Policy `json:"policy"`
	// Quiet silences the workers' warnings and batch status lines.
	Quiet bool `json:"quiet"`
}

// config checks o and resolves it into a worker configuration.
func (o *Options) config() (*workerConfig, error) {
	if o.Prompt == nil {
		return nil, fmt.Errorf("no prompt given")
	}
	if o.Model == "" {
		return nil, fmt.Errorf("no model given")
	}
	if o.MaxBudget < 0 {
		return nil, fmt.Errorf("the budget %v is negative", o.MaxBudget)
	}
	cfg := &workerConfig{Options: *o, Quiet: o.Quiet}
	r := &cfg.Options
	var err error
	if cfg.Policy, err = o.Policy(); err != nil {
		return nil, err
	}
	r.TextExpression = orDefault(r.TextExpression, rows.DefaultTextExpression)
	if _, err := rows.Compile(r.TextExpression); err != nil {
		return nil, fmt.Errorf("text expression: %w", err)
	}
	r.OutputField = orDefault(r.OutputField, r.Prompt.Name)
	r.BaseURL = llm.NormalizeBaseURL(orDefault(r.BaseURL, llm.DefaultBaseURL))
	if r.CacheDir == "" {
		if runner.Distributed() {
			return nil, fmt.Errorf("no cache directory given: %s's workers need one they share (gs://, s3:// or a shared file system)", runner.Name())
		}
		if r.CacheDir, err = cache.DefaultDir(); err != nil {
			return nil, err
		}
	}
	if r.Prices == nil {
		r.Prices = cost.Default()
	}
	if r.ShardsInFlight <= 0 {
		r.ShardsInFlight = DefaultShardsInFlight
	}
	runID := make([]byte, 8)
	_, _ = rand.Read(runID)
	cfg.RunID = fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(runID))
	cfg.Fingerprint = cfg.fingerprint()
	return cfg, nil
}

// fingerprint identifies what a committed shard holds: everything that
// changes its rows (prompt, processor, model and request options, text
// expression, output field, bad-row policy, the model's price), and nothing
// that only changes how they are obtained (flow control, cache, budget,
// batch mode, the API key).
func (c *workerConfig) fingerprint() string {
	price, _ := c.Prices.Lookup(c.Model)
	h := sha256.New()
	_ = json.NewEncoder(h).Encode(struct {
		Version                                    int
		Prompt                                     *prompts.Prompt
		Processor, SystemPrompt, OutputField, Text string
		Model, BaseURL, ReasoningEffort, Tier      string
		Temperature                                *float64
		MaxTokens, MaxTextLength                   int
		SkipBad                                    bool
		Price                                      cost.Price
		BatchFactor                                float64
	}{
		1, c.Prompt, c.Processor, c.SystemPrompt, c.OutputField, c.TextExpression,
		c.Model, c.BaseURL, c.ReasoningEffort, c.ServiceTier, c.Temperature, c.MaxNewTokens, c.MaxTextLength,
		c.Policy.SkipBad, price, c.Prices.BatchFactor,
	})
	return hex.EncodeToString(h.Sum(nil))
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// LoadPrompt returns the prompt that --prompt and --task-prompt describe
// (give at most one): prompt is a library prompt's name or a prompt file;
// taskPrompt is a task prompt given as text with a {text} placeholder, or as
// @FILE, a prompt file. Neither gives an error.
func LoadPrompt(prompt, taskPrompt string) (*prompts.Prompt, error) {
	switch {
	case prompt != "" && taskPrompt != "":
		return nil, fmt.Errorf("give a prompt or a task prompt, not both")
	case prompt != "":
		return prompts.Resolve(prompt)
	case strings.HasPrefix(taskPrompt, "@"):
		return prompts.LoadFile(taskPrompt[1:])
	case taskPrompt != "":
		p, err := prompts.Parse("annotation", []byte(taskPrompt))
		if err != nil {
			return nil, fmt.Errorf("task prompt: %w", err)
		}
		return p, nil
	}
	return nil, fmt.Errorf("no prompt: give a library prompt's name (%s), a prompt file or a task prompt", strings.Join(prompts.Names(), ", "))
}

// LoadSystemPrompt returns the system prompt that --system-prompt gives: the
// name of a library system prompt, @FILE for a file's content, or the text
// itself.
func LoadSystemPrompt(s string) (string, error) {
	if name, ok := strings.CutPrefix(s, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("system prompt: %w", err)
		}
		return strings.TrimRight(string(b), "\n"), nil
	}
	return prompts.ResolveSystem(s), nil
}
