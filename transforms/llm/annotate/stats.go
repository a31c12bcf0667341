package annotate

import (
	"fmt"
	"iter"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/winnowlabs/winnow/transforms/llm"
)

// Stats count rows and what they cost. Requests, tokens and cost count only
// what was sent in this run (cache hits are free); they make the cost ledger.
type Stats struct {
	// Rows by outcome.
	Rows         int64 `json:"rows"`
	Annotated    int64 `json:"annotated"`
	Failed       int64 `json:"failed"`
	NotAttempted int64 `json:"not_attempted"`
	// CacheHits counts rows answered (or failed) from the cache.
	CacheHits int64 `json:"cache_hits"`
	// Requests counts HTTP attempts sent; Retries the attempts after a
	// request's first.
	Requests int64 `json:"requests"`
	Retries  int64 `json:"retries"`
	// Token usage and cost of the answers received in this run.
	PromptTokens       int64   `json:"prompt_tokens"`
	CachedPromptTokens int64   `json:"cached_prompt_tokens"`
	CompletionTokens   int64   `json:"completion_tokens"`
	CostUSD            float64 `json:"cost_usd"`
}

// Add returns the sum of two Stats.
func (s Stats) Add(t Stats) Stats {
	return Stats{
		Rows: s.Rows + t.Rows, Annotated: s.Annotated + t.Annotated, Failed: s.Failed + t.Failed,
		NotAttempted: s.NotAttempted + t.NotAttempted, CacheHits: s.CacheHits + t.CacheHits,
		Requests: s.Requests + t.Requests, Retries: s.Retries + t.Retries,
		PromptTokens: s.PromptTokens + t.PromptTokens, CachedPromptTokens: s.CachedPromptTokens + t.CachedPromptTokens,
		CompletionTokens: s.CompletionTokens + t.CompletionTokens, CostUSD: s.CostUSD + t.CostUSD,
	}
}

// ProgressLine formats a progress line: rows done of total (0: unknown),
// rate, cost so far and, with a total, the time left at the current rate.
func ProgressLine(st Stats, total int64, elapsed time.Duration) string {
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(st.Rows) / s
	}
	line := fmt.Sprintf("%d rows", st.Rows)
	if total > 0 {
		line = fmt.Sprintf("%d/%d rows (%.1f%%)", st.Rows, total, 100*float64(st.Rows)/float64(total))
	}
	line += fmt.Sprintf(", %.1f rows/s, %d failed, %d cached, %d requests (%d retries), $%.4f",
		rate, st.Failed, st.CacheHits, st.Requests, st.Retries, st.CostUSD)
	if total > 0 && rate > 0 && st.Rows < total {
		eta := time.Duration(float64(total-st.Rows) / rate * float64(time.Second)).Round(time.Second)
		line += fmt.Sprintf(", ETA %s", eta)
	}
	return line
}

// counters are Stats updated concurrently.
type counters struct {
	rows, annotated, failed, notAttempted, cacheHits atomic.Int64
	requests, retries                                atomic.Int64
	prompt, cachedPrompt, completion                 atomic.Int64
	costMu                                           sync.Mutex
	costUSD                                          float64
}

func (c *counters) count(r *Result) {
	c.rows.Add(1)
	switch r.Status {
	case Annotated:
		c.annotated.Add(1)
	case Failed:
		c.failed.Add(1)
	case NotAttempted:
		c.notAttempted.Add(1)
	}
	if r.CacheHit {
		c.cacheHits.Add(1)
	}
}

func (c *counters) sent(attempts int) {
	c.requests.Add(int64(attempts))
	if attempts > 1 {
		c.retries.Add(int64(attempts - 1))
	}
}

func (c *counters) paid(u llm.Usage, usd float64) {
	c.prompt.Add(u.PromptTokens)
	c.cachedPrompt.Add(u.CachedPromptTokens)
	c.completion.Add(u.CompletionTokens)
	c.costMu.Lock()
	c.costUSD += usd
	c.costMu.Unlock()
}

func (c *counters) snapshot() Stats {
	c.costMu.Lock()
	usd := c.costUSD
	c.costMu.Unlock()
	return Stats{
		Rows: c.rows.Load(), Annotated: c.annotated.Load(), Failed: c.failed.Load(),
		NotAttempted: c.notAttempted.Load(), CacheHits: c.cacheHits.Load(),
		Requests: c.requests.Load(), Retries: c.retries.Load(),
		PromptTokens: c.prompt.Load(), CachedPromptTokens: c.cachedPrompt.Load(),
		CompletionTokens: c.completion.Load(), CostUSD: usd,
	}
}

// Budget is a spending limit shared by the annotators of a run. Before a
// request is sent its worst-case cost (estimated prompt tokens and the
// assumed answer length) is reserved; once answered the reservation is
// replaced by the real cost. A request that does not fit is not sent, and from
// then on no request is: the run stops cleanly without passing the limit
// (unless estimates undercount the prompt).
type Budget struct {
	mu       sync.Mutex
	limit    float64
	spent    float64
	reserved float64
	reached  bool
}

// NewBudget returns a budget of usd dollars (<= 0: unlimited).
func NewBudget(usd float64) *Budget {
	if usd <= 0 {
		usd = math.Inf(1)
	}
	return &Budget{limit: usd}
}

func (b *Budget) reserve(usd float64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.reached || b.spent+b.reserved+usd > b.limit {
		b.reached = true
		return false
	}
	b.reserved += usd
	return true
}

func (b *Budget) settle(reserved, spent float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reserved -= reserved
	b.spent += spent
}

// Spent returns the dollars spent.
func (b *Budget) Spent() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.spent
}

// Reached reports whether a request was refused for lack of budget.
func (b *Budget) Reached() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reached
}

// Estimate is a dry run's account of what a run would send and cost.
type Estimate struct {
	Rows int64 `json:"rows"`
	// Cached rows have an answer (or, without RetryErrors, a recorded
	// failure) in the cache and would not be sent.
	Cached int64 `json:"cached"`
	// Requests would be sent (rows with the same request count once).
	Requests int64 `json:"requests"`
	// PromptTokens is estimated (characters / 4); CompletionTokens assumes
	// Options.EstimatedCompletionTokens per request.
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	CostUSD          float64 `json:"cost_usd"`
	// Priced is false when the model has no price (cost 0).
	Priced bool `json:"priced"`
}

// Estimate counts, without sending anything, the requests that Annotate (or
// AnnotateBatch, with batch) would send for rows, their estimated tokens and
// cost.
func (a *Annotator) Estimate(rows iter.Seq[Row], batch bool) Estimate {
	est := Estimate{Priced: true}
	seen := map[string]bool{}
	for row := range rows {
		est.Rows++
		req := a.Request(row.Text)
		key := req.Key()
		if a.cached(key) {
			est.Cached++
			continue
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		est.Requests++
		prompt := int64(req.EstimatePromptTokens())
		est.PromptTokens += prompt
		est.CompletionTokens += int64(a.opts.EstimatedCompletionTokens)
		usd, ok := a.prices.Estimate(req, a.opts.EstimatedCompletionTokens, batch)
		est.CostUSD += usd
		est.Priced = est.Priced && ok
	}
	return est
}

// cached reports whether a row with this key would be reported without
// sending: an answer that parses, or (without RetryErrors) any answer or
// failure.
func (a *Annotator) cached(key string) bool {
	if a.opts.Cache == nil {
		return false
	}
	if e, ok := a.opts.Cache.Answer(key); ok {
		if !a.opts.RetryErrors {
			return true
		}
		r := a.fromAnswer(Result{}, e, true)
		return r.Status == Annotated
	}
	_, failed := a.opts.Cache.Failure(key)
	return failed && !a.opts.RetryErrors
}
