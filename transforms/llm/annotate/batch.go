package annotate

import (
	"context"
	"errors"
	"iter"

	"github.com/winnowlabs/winnow/transforms/llm/batch"
	"github.com/winnowlabs/winnow/transforms/llm/cache"
)

// AnnotateBatch annotates rows through the Batch API (half price, answers
// within 24 hours): rows answered by the cache are emitted at once, the
// others are sent as batches (see package batch; opts.StatePath is the
// shard's state file, kept in the output directory so that a re-run resumes
// the same batches), and emitted when their batch is joined. It needs a
// cache: batch results are stored there first. emit is called from the
// calling goroutine. A non-nil error means some rows were not emitted.
func (a *Annotator) AnnotateBatch(ctx context.Context, rows iter.Seq[Row], opts batch.Options, emit func(Result)) (Stats, error) {
	if a.opts.Cache == nil {
		return Stats{}, errors.New("annotate: batch mode needs a cache")
	}
	var call counters
	report := func(res Result) {
		call.count(&res)
		a.total.count(&res)
		emit(res)
	}
	type pending struct {
		res      Result
		estimate float64
	}
	var waiting []pending
	var jobs []batch.Job
	queued := map[string]float64{} // key -> reserved estimate
	for row := range rows {
		req := a.Request(row.Text)
		key := req.Key()
		res := Result{Key: row.Key, RequestKey: key}
		if e, ok := a.opts.Cache.Answer(key); ok {
			r := a.fromAnswer(res, e, true)
			if r.Status == Annotated || !a.opts.RetryErrors {
				report(r)
				continue
			}
		} else if f, ok := a.opts.Cache.Failure(key); ok && !a.opts.RetryErrors {
			report(fromFailure(res, f, true))
			continue
		}
		if _, ok := queued[key]; !ok {
			var estimate float64
			if a.opts.Budget != nil {
				estimate, _ = a.prices.Estimate(req, a.opts.EstimatedCompletionTokens, true)
				if !a.opts.Budget.reserve(estimate) {
					res.Status, res.Reason = NotAttempted, ReasonBudget
					report(res)
					continue
				}
			}
			queued[key] = estimate
			jobs = append(jobs, batch.Job{Request: req, Key: key})
		}
		waiting = append(waiting, pending{res: res})
	}
	if len(jobs) == 0 && len(waiting) == 0 {
		return call.snapshot(), nil
	}
	stored := opts.Stored
	opts.Stored = func(e cache.Entry) {
		call.sent(1)
		a.total.sent(1)
		if e.Kind == cache.KindAnswer {
			usd := a.cost(e)
			call.paid(e.Usage, usd)
			a.total.paid(e.Usage, usd)
			if est, ok := queued[e.Key]; ok && a.opts.Budget != nil {
				a.opts.Budget.settle(est, usd)
				delete(queued, e.Key)
			}
		}
		if stored != nil {
			stored(e)
		}
	}
	_, err := batch.Run(ctx, a.client, a.opts.Cache, jobs, opts)
	if a.opts.Budget != nil {
		for _, est := range queued {
			a.opts.Budget.settle(est, 0)
		}
	}
	if err != nil {
		return call.snapshot(), err
	}
	for _, p := range waiting {
		res := p.res
		if e, ok := a.opts.Cache.Answer(res.RequestKey); ok {
			report(a.fromAnswer(res, e, false))
		} else if f, ok := a.opts.Cache.Failure(res.RequestKey); ok {
			report(fromFailure(res, f, false))
		} else {
			res.Status, res.Reason = NotAttempted, ReasonBatchNoRun
			report(res)
		}
	}
	return call.snapshot(), nil
}
