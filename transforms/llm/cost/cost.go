// Package cost prices LLM usage: a built-in table of OpenAI models (USD per
// million tokens for input, cached input and output, with the Batch API
// discount and the flex and priority service tiers), overridable from a JSON
// file, and the dry-run estimate of a request's cost.
//
// The built-in prices are OpenAI's published API prices as of 2025-11 (the
// pricing page, platform.openai.com/docs/pricing: standard, flex and priority
// tiers; Batch API at 50% of standard). Prices change: check them, and
// override them with a price file for other providers or newer prices.
// Models not in the table (local vLLM or Ollama models) cost 0.
package cost

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/winnowlabs/winnow/transforms/llm"
)

// Rates are USD per million tokens.
type Rates struct {
	Input       float64 `json:"input"`
	CachedInput float64 `json:"cached_input"`
	Output      float64 `json:"output"`
}

// Scale returns the rates multiplied by f.
func (r Rates) Scale(f float64) Rates {
	return Rates{Input: r.Input * f, CachedInput: r.CachedInput * f, Output: r.Output * f}
}

// Price is a model's price.
type Price struct {
	// Standard is the default tier's price.
	Standard Rates `json:"standard"`
	// Flex and Priority are those tiers' prices; nil when the model does not
	// offer the tier (the standard price is charged then).
	Flex     *Rates `json:"flex,omitempty"`
	Priority *Rates `json:"priority,omitempty"`
}

// Table is a price table.
type Table struct {
	// Source and Date say where the prices come from.
	Source string `json:"source,omitempty"`
	Date   string `json:"date,omitempty"`
	// BatchFactor multiplies the standard price for Batch API requests.
	BatchFactor float64          `json:"batch_factor"`
	Models      map[string]Price `json:"models"`
}

// Service tiers as requested and as reported by the server.
const (
	TierAuto     = "auto"
	TierDefault  = "default"
	TierFlex     = "flex"
	TierPriority = "priority"
)

func rates(in, cached, out float64) Rates { return Rates{Input: in, CachedInput: cached, Output: out} }
func ratesPtr(in, cached, out float64) *Rates {
	r := rates(in, cached, out)
	return &r
}

// Default returns the built-in table (see the package documentation).
func Default() *Table {
	return &Table{
		Source:      "OpenAI API pricing page (standard, flex and priority tiers; Batch API at 50%)",
		Date:        "2025-11",
		BatchFactor: 0.5,
		Models: map[string]Price{
			"gpt-4o":       {Standard: rates(2.50, 1.25, 10.00), Priority: ratesPtr(4.25, 2.125, 17.00)},
			"gpt-4o-mini":  {Standard: rates(0.15, 0.075, 0.60), Priority: ratesPtr(0.25, 0.125, 1.00)},
			"gpt-4.1":      {Standard: rates(2.00, 0.50, 8.00), Priority: ratesPtr(3.50, 0.875, 14.00)},
			"gpt-4.1-mini": {Standard: rates(0.40, 0.10, 1.60), Priority: ratesPtr(0.70, 0.175, 2.80)},
			"gpt-4.1-nano": {Standard: rates(0.10, 0.025, 0.40), Priority: ratesPtr(0.20, 0.05, 0.80)},
			"gpt-5":        {Standard: rates(1.25, 0.125, 10.00), Flex: ratesPtr(0.625, 0.0625, 5.00), Priority: ratesPtr(2.50, 0.25, 20.00)},
			"gpt-5-mini":   {Standard: rates(0.25, 0.025, 2.00), Flex: ratesPtr(0.125, 0.0125, 1.00), Priority: ratesPtr(0.45, 0.045, 3.60)},
			"gpt-5-nano":   {Standard: rates(0.05, 0.005, 0.40), Flex: ratesPtr(0.025, 0.0025, 0.20)},
			"gpt-5.1":      {Standard: rates(1.25, 0.125, 10.00), Flex: ratesPtr(0.625, 0.0625, 5.00), Priority: ratesPtr(2.50, 0.25, 20.00)},
			"o1":           {Standard: rates(15.00, 7.50, 60.00)},
			"o1-mini":      {Standard: rates(1.10, 0.55, 4.40)},
			"o3":           {Standard: rates(2.00, 0.50, 8.00), Flex: ratesPtr(1.00, 0.25, 4.00), Priority: ratesPtr(3.50, 0.875, 14.00)},
			"o3-mini":      {Standard: rates(1.10, 0.55, 4.40)},
			"o4-mini":      {Standard: rates(1.10, 0.275, 4.40), Flex: ratesPtr(0.55, 0.138, 2.20), Priority: ratesPtr(2.00, 0.50, 8.00)},
		},
	}
}

// LoadFile reads a price file and returns the built-in table with the file's
// models added or replaced. The file is a JSON Table, e.g.
//
//	{"models": {"my-model": {"standard": {"input": 0.2, "cached_input": 0.1, "output": 0.8},
//	                         "flex": {"input": 0.1, "cached_input": 0.05, "output": 0.4}}},
//	 "batch_factor": 0.5}
//
// batch_factor, source and date replace the built-in ones when given.
func LoadFile(path string) (*Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read price file: %w", err)
	}
	var over Table
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&over); err != nil {
		return nil, fmt.Errorf("price file %s: %w", path, err)
	}
	t := Default()
	for name, p := range over.Models {
		if p.Standard.Input < 0 || p.Standard.CachedInput < 0 || p.Standard.Output < 0 {
			return nil, fmt.Errorf("price file %s: model %s: negative price", path, name)
		}
		t.Models[name] = p
	}
	if over.BatchFactor != 0 {
		if over.BatchFactor < 0 || over.BatchFactor > 1 {
			return nil, fmt.Errorf("price file %s: batch_factor %v is not in (0, 1]", path, over.BatchFactor)
		}
		t.BatchFactor = over.BatchFactor
	}
	if over.Source != "" {
		t.Source = over.Source
	}
	if over.Date != "" {
		t.Date = over.Date
	}
	return t, nil
}

// snapshotSuffix matches a dated model snapshot, e.g. "-2024-08-06".
var snapshotSuffix = regexp.MustCompile(`^-\d{4}-\d{2}-\d{2}$`)

// Lookup returns a model's price: an exact entry, else the entry of which the
// model is a dated snapshot (gpt-4o-2024-08-06 is priced as gpt-4o).
func (t *Table) Lookup(model string) (Price, bool) {
	if p, ok := t.Models[model]; ok {
		return p, true
	}
	names := make([]string, 0, len(t.Models))
	for name := range t.Models {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for _, name := range names {
		if strings.HasPrefix(model, name) && snapshotSuffix.MatchString(model[len(name):]) {
			return t.Models[name], true
		}
	}
	return Price{}, false
}

// RatesFor returns the rates charged for a model in a service tier (as the
// server reported it; "" or auto mean default), through the Batch API or not.
func (t *Table) RatesFor(model, tier string, batch bool) (Rates, bool) {
	p, ok := t.Lookup(model)
	if !ok {
		return Rates{}, false
	}
	switch {
	case batch:
		return p.Standard.Scale(t.BatchFactor), true
	case tier == TierFlex && p.Flex != nil:
		return *p.Flex, true
	case tier == TierPriority && p.Priority != nil:
		return *p.Priority, true
	default:
		return p.Standard, true
	}
}

// Cost returns the USD cost of a usage; known is false for a model without a
// price (cost 0).
func (t *Table) Cost(model, tier string, batch bool, u llm.Usage) (usd float64, known bool) {
	r, ok := t.RatesFor(model, tier, batch)
	if !ok {
		return 0, false
	}
	cached := min(u.CachedPromptTokens, u.PromptTokens)
	uncached := u.PromptTokens - cached
	return (float64(uncached)*r.Input + float64(cached)*r.CachedInput + float64(u.CompletionTokens)*r.Output) / 1e6, true
}

// Estimate returns the estimated cost of sending a request: its estimated
// prompt tokens at the input price plus completionTokens at the output price.
func (t *Table) Estimate(req *llm.Request, completionTokens int, batch bool) (usd float64, known bool) {
	u := llm.Usage{PromptTokens: int64(req.EstimatePromptTokens()), CompletionTokens: int64(completionTokens)}
	return t.Cost(req.Model, req.ServiceTier, batch, u)
}
