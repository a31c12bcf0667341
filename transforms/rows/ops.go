package rows

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"
)

// Op is one record operation. Apply may change the row (Set) and returns
// keep=false to drop it. An error concerning this row only is a
// BadRowError; any other error fails the shard. Apply must be safe for
// concurrent use: a shard's rows are processed by several goroutines.
type Op interface {
	Apply(r *Row) (keep bool, err error)
}

// BatchOp is an Op that works faster on many rows at once, such as a
// neural classifier whose forward pass runs on a padded batch. The shard
// engine hands it the rows of a batch that earlier operations kept; Apply
// still serves single rows.
type BatchOp interface {
	Op
	// ApplyBatch applies the operation to every row of rs, setting keep[i]
	// and errs[i] for rs[i] as Apply would return them. It must be safe for
	// concurrent use.
	ApplyBatch(rs []*Row, keep []bool, errs []error)
}

// OpFunc adapts a function to Op.
type OpFunc func(r *Row) (bool, error)

// Apply calls f.
func (f OpFunc) Apply(r *Row) (bool, error) { return f(r) }

// Spec names an Op and its arguments; it is how pipelines describe record
// work to workers, which build the Op with Build.
type Spec struct {
	Kind string          `json:"kind"`
	Args json.RawMessage `json:"args,omitempty"`
}

// NewSpec encodes args into a Spec of kind.
func NewSpec(kind string, args any) (Spec, error) {
	b, err := json.Marshal(args)
	if err != nil {
		return Spec{}, fmt.Errorf("encode %s arguments: %w", kind, err)
	}
	return Spec{Kind: kind, Args: b}, nil
}

// Builder makes an Op from its JSON arguments. global is the run-wide data a
// pipeline computed before this step (e.g. label counts), or nil.
type Builder func(args json.RawMessage, global json.RawMessage) (Op, error)

var (
	regMu    sync.RWMutex
	builders = map[string]Builder{}
)

// Register makes an Op kind available to Build. Packages register their ops
// from init functions.
func Register(kind string, b Builder) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := builders[kind]; dup {
		panic("rows: op kind registered twice: " + kind)
	}
	builders[kind] = b
}

// Kinds lists the registered op kinds.
func Kinds() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	var ks []string
	for k := range builders {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Build makes the ops described by specs.
func Build(specs []Spec, global json.RawMessage) ([]Op, error) {
	ops := make([]Op, 0, len(specs))
	for _, s := range specs {
		regMu.RLock()
		b, ok := builders[s.Kind]
		regMu.RUnlock()
		if !ok {
			return nil, fmt.Errorf("unknown row operation %q (is its package linked in?)", s.Kind)
		}
		op, err := b(s.Args, global)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Kind, err)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// ChainBatch applies ops to every row of rs as Chain applies them to one
// row, handing BatchOps all the rows still kept at once. keep[i] and errs[i]
// report rs[i]'s outcome.
func ChainBatch(rs []*Row, ops []Op, keep []bool, errs []error) {
	alive := make([]int, len(rs))
	for i := range rs {
		alive[i], keep[i], errs[i] = i, true, nil
	}
	var sub []*Row
	var subKeep []bool
	var subErrs []error
	for _, op := range ops {
		if len(alive) == 0 {
			return
		}
		if bo, ok := op.(BatchOp); ok {
			sub, subKeep, subErrs = sub[:0], subKeep[:0], subErrs[:0]
			for _, i := range alive {
				sub = append(sub, rs[i])
				subKeep = append(subKeep, false)
				subErrs = append(subErrs, nil)
			}
			bo.ApplyBatch(sub, subKeep, subErrs)
			for j, i := range alive {
				keep[i], errs[i] = subKeep[j] && subErrs[j] == nil, subErrs[j]
			}
		} else {
			for _, i := range alive {
				k, err := op.Apply(rs[i])
				keep[i], errs[i] = k && err == nil, err
			}
		}
		next := alive[:0]
		for _, i := range alive {
			if keep[i] {
				next = append(next, i)
			}
		}
		alive = next
	}
}

// AnyBatch reports whether any of ops is a BatchOp.
func AnyBatch(ops []Op) bool {
	for _, op := range ops {
		if _, ok := op.(BatchOp); ok {
			return true
		}
	}
	return false
}

// Chain applies ops in order, stopping at the first that drops the row.
func Chain(r *Row, ops []Op) (bool, error) {
	for _, op := range ops {
		keep, err := op.Apply(r)
		if err != nil || !keep {
			return false, err
		}
	}
	return true, nil
}
