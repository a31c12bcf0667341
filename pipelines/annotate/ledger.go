package annotate

import (
	"github.com/winnowlabs/winnow/transforms/llm"
	"github.com/winnowlabs/winnow/transforms/llm/annotate"
)

// Ledger accounts for annotations: of one shard (in its completion marker and
// its manifest entry) or of a whole output (the manifest's extra). It counts
// what the annotations cost when they were answered, whether this run or an
// earlier one paid (a resumed run has the same ledger as an uninterrupted
// one); rows of a shard that share a request count its answer once.
type Ledger struct {
	Annotated int64 `json:"annotated"`
	// Failed rows are in _errors/ with their reason.
	Failed int64 `json:"failed"`
	// Answers counts the distinct requests answered (answers that did not
	// parse included: they were paid for).
	Answers            int64   `json:"answers"`
	PromptTokens       int64   `json:"prompt_tokens"`
	CachedPromptTokens int64   `json:"cached_prompt_tokens"`
	CompletionTokens   int64   `json:"completion_tokens"`
	CostUSD            float64 `json:"cost_usd"`
}

// Add returns the sum of two ledgers.
func (l Ledger) Add(m Ledger) Ledger {
	return Ledger{
		Annotated: l.Annotated + m.Annotated, Failed: l.Failed + m.Failed, Answers: l.Answers + m.Answers,
		PromptTokens: l.PromptTokens + m.PromptTokens, CachedPromptTokens: l.CachedPromptTokens + m.CachedPromptTokens,
		CompletionTokens: l.CompletionTokens + m.CompletionTokens, CostUSD: l.CostUSD + m.CostUSD,
	}
}

// count adds a row's result; answered holds the request keys already priced.
func (l *Ledger) count(r *annotate.Result, answered map[string]bool) {
	switch r.Status {
	case annotate.Annotated:
		l.Annotated++
	case annotate.Failed:
		l.Failed++
	default:
		return
	}
	if r.Usage == (llm.Usage{}) || answered[r.RequestKey] {
		return
	}
	answered[r.RequestKey] = true
	l.Answers++
	l.PromptTokens += r.Usage.PromptTokens
	l.CachedPromptTokens += r.Usage.CachedPromptTokens
	l.CompletionTokens += r.Usage.CompletionTokens
	l.CostUSD += r.CostUSD
}
