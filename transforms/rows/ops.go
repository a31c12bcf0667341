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
