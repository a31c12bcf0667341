package llm

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// flow is the admission control shared by every request of a Client: a
// concurrency bound, token buckets for requests and tokens per minute, and the
// cooldown that follows a 429.
type flow struct {
	sem      chan struct{}
	requests *rate.Limiter // nil: unlimited
	tokens   *tokenBucket  // nil: unlimited
	// cooldownUntil is the Unix time in nanoseconds before which no request
	// is sent, set after a 429.
	cooldownUntil atomic.Int64
}

func newFlow(concurrency int, requestsPerMinute, tokensPerMinute float64) *flow {
	f := &flow{sem: make(chan struct{}, concurrency)}
	if requestsPerMinute > 0 {
		perSecond := requestsPerMinute / 60
		// A burst of one second's worth: OpenAI enforces per-minute limits
		// over shorter windows too, so a minute's burst at once is refused.
		f.requests = rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond)))
	}
	if tokensPerMinute > 0 {
		f.tokens = newTokenBucket(tokensPerMinute)
	}
	return f
}

// acquire takes a concurrency slot.
func (f *flow) acquire(ctx context.Context) error {
	select {
	case f.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *flow) release() { <-f.sem }

// admit waits for the cooldown to end and for the token buckets to allow a
// request of about estTokens tokens.
func (f *flow) admit(ctx context.Context, estTokens int) error {
	if err := f.waitCooldown(ctx); err != nil {
		return err
	}
	if f.requests != nil {
		if err := f.requests.Wait(ctx); err != nil {
			return err
		}
	}
	if f.tokens != nil {
		if err := f.tokens.wait(ctx, estTokens); err != nil {
			return err
		}
	}
	// A 429 seen while waiting on the buckets starts a cooldown that this
	// request must respect too.
	return f.waitCooldown(ctx)
}

// settle corrects the token bucket with the tokens a request really used.
func (f *flow) settle(estTokens, usedTokens int) {
	if f.tokens != nil {
		f.tokens.adjust(usedTokens - estTokens)
	}
}

// cooldown makes every request wait until at least now+d.
func (f *flow) cooldown(d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	for {
		cur := f.cooldownUntil.Load()
		if cur >= until || f.cooldownUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

func (f *flow) waitCooldown(ctx context.Context) error {
	for {
		until := f.cooldownUntil.Load()
		d := time.Until(time.Unix(0, until))
		if until == 0 || d <= 0 {
			return nil
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tokenBucket limits tokens per minute. A request first takes its estimated
// tokens; once its usage is known the difference is settled: extra tokens are
// taken as debt (later requests wait longer), unused ones become a credit that
// later requests spend before they wait.
type tokenBucket struct {
	lim   *rate.Limiter
	burst int

	mu     sync.Mutex
	credit int
}

func newTokenBucket(perMinute float64) *tokenBucket {
	perSecond := perMinute / 60
	burst := max(1, int(math.Ceil(perSecond)))
	return &tokenBucket{lim: rate.NewLimiter(rate.Limit(perSecond), burst), burst: burst}
}

func (b *tokenBucket) wait(ctx context.Context, n int) error {
	b.mu.Lock()
	use := min(n, b.credit)
	b.credit -= use
	b.mu.Unlock()
	n -= use
	// A request larger than the burst waits for it in burst-sized parts, so
	// the long-run rate holds without rejecting big requests.
	for n > 0 {
		part := min(n, b.burst)
		if err := b.lim.WaitN(ctx, part); err != nil {
			return err
		}
		n -= part
	}
	return nil
}

func (b *tokenBucket) adjust(delta int) {
	if delta < 0 {
		b.mu.Lock()
		b.credit = min(b.credit-delta, b.burst)
		b.mu.Unlock()
		return
	}
	now := time.Now()
	for delta > 0 {
		part := min(delta, b.burst)
		b.lim.ReserveN(now, part) // taken now, paid for by later waits
		delta -= part
	}
}
