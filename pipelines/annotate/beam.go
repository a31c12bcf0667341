package annotate

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/winnowlabs/winnow/transforms/shardmap"
)

// Counters of the annotation step, in the "winnow" namespace (beside the
// shard counters of shardmap.CountResult). Requests, retries, tokens and
// cost count what this run sent; cache hits the rows answered without
// sending.
var (
	cRequests         = beam.NewCounter("winnow", "requests")
	cRetries          = beam.NewCounter("winnow", "retries")
	cCacheHits        = beam.NewCounter("winnow", "cache_hits")
	cPromptTokens     = beam.NewCounter("winnow", "prompt_tokens")
	cCachedTokens     = beam.NewCounter("winnow", "cached_prompt_tokens")
	cCompletionTokens = beam.NewCounter("winnow", "completion_tokens")
	cCostMicroUSD     = beam.NewCounter("winnow", "cost_micro_usd")
	cAnnotated        = beam.NewCounter("winnow", "annotated")
	cFailed           = beam.NewCounter("winnow", "failed")
	cNotAttempted     = beam.NewCounter("winnow", "not_attempted")
	cIncomplete       = beam.NewCounter("winnow", "shards_incomplete")
)

func init() {
	beam.RegisterType(reflect.TypeOf((*annotateShardsFn)(nil)).Elem())
	register.Emitter1[[]byte]()
}

// annotateShards annotates every task of tasks (a PCollection<[]byte> of
// encoded shardmap.Tasks) and returns a PCollection<[]byte> of the encoded
// shardmap.Results of the committed shards (their Extra is the shard's
// Ledger). Shards left for a later run are counted, not emitted.
func annotateShards(s beam.Scope, cfg []byte, tasks beam.PCollection) beam.PCollection {
	s = s.Scope("annotate.Shards")
	return beam.ParDo(s, &annotateShardsFn{Config: cfg}, tasks)
}

// annotateShardsFn annotates several shards at once (at most
// Options.ShardsInFlight per worker process) on the worker's shared
// annotator; the shards' results are emitted on the bundle's goroutine as
// they finish, and FinishBundle waits for the last.
type annotateShardsFn struct {
	Config []byte `json:"config"`

	w       *worker
	ctx     context.Context
	cancel  context.CancelCauseFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	results []shardOutcome
	err     error
}

func (f *annotateShardsFn) Setup() error {
	w, err := workerFor(f.Config)
	if err != nil {
		return err
	}
	f.w = w
	return nil
}

func (f *annotateShardsFn) StartBundle(ctx context.Context, _ func([]byte)) {
	f.ctx, f.cancel = context.WithCancelCause(ctx)
	f.results, f.err = nil, nil
}

func (f *annotateShardsFn) ProcessElement(ctx context.Context, enc []byte, emit func([]byte)) error {
	var task shardmap.Task
	if err := json.Unmarshal(enc, &task); err != nil {
		return fmt.Errorf("decode task: %w", err)
	}
	if err := f.flush(ctx, emit); err != nil {
		return err
	}
	f.w.slots <- struct{}{}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer func() { <-f.w.slots }()
		out, err := f.w.annotateShard(f.ctx, task)
		f.mu.Lock()
		defer f.mu.Unlock()
		if err != nil {
			if f.err == nil {
				f.err = err
				f.cancel(err) // the other shards stop too
			}
			return
		}
		f.results = append(f.results, out)
	}()
	return nil
}

func (f *annotateShardsFn) FinishBundle(ctx context.Context, emit func([]byte)) error {
	f.wg.Wait()
	defer f.cancel(nil)
	return f.flush(ctx, emit)
}

// flush counts and emits the finished shards and reports the first error.
func (f *annotateShardsFn) flush(ctx context.Context, emit func([]byte)) error {
	f.mu.Lock()
	done, err := f.results, f.err
	f.results = nil
	f.mu.Unlock()
	for _, o := range done {
		st := o.Spent
		cRequests.Inc(ctx, st.Requests)
		cRetries.Inc(ctx, st.Retries)
		cCacheHits.Inc(ctx, st.CacheHits)
		cPromptTokens.Inc(ctx, st.PromptTokens)
		cCachedTokens.Inc(ctx, st.CachedPromptTokens)
		cCompletionTokens.Inc(ctx, st.CompletionTokens)
		cCostMicroUSD.Inc(ctx, int64(st.CostUSD*1e6+0.5))
		cAnnotated.Inc(ctx, st.Annotated)
		cFailed.Inc(ctx, st.Failed)
		cNotAttempted.Inc(ctx, st.NotAttempted)
		if !o.Committed {
			cIncomplete.Inc(ctx, 1)
			continue
		}
		b, merr := json.Marshal(o.Result)
		if merr != nil {
			return fmt.Errorf("encode result: %w", merr)
		}
		shardmap.CountResult(ctx, o.Result)
		emit(b)
	}
	return err
}
