package shardmap

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/winnowlabs/winnow/transforms/rows"
)

// Plan describes the work of a map-shards step in serialisable form; each
// worker builds the Work from it.
type Plan struct {
	Ops      []rows.Spec `json:"ops,omitempty"`
	Selector *rows.Spec  `json:"selector,omitempty"`
	Policy   Policy      `json:"policy"`
	// Workers is the size of the row worker pool (0: all cores).
	Workers int `json:"workers,omitempty"`
}

// Encode serialises the plan.
func (p Plan) Encode() ([]byte, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode plan: %w", err)
	}
	return b, nil
}

// DecodePlan parses an encoded plan.
func DecodePlan(b []byte) (Plan, error) {
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("decode plan: %w", err)
	}
	return p, nil
}

// Build makes the Work for this plan given the run-wide global data (nil
// when the step has none). The fingerprint covers the operations, the
// selector and the global data, so a completion marker only counts for the
// same work; the bad-row policy and worker count do not change output.
func (p Plan) Build(global json.RawMessage) (Work, error) {
	ops, err := rows.Build(p.Ops, global)
	if err != nil {
		return Work{}, err
	}
	w := Work{Ops: ops}
	if p.Selector != nil {
		regMu.RLock()
		b, ok := selectors[p.Selector.Kind]
		regMu.RUnlock()
		if !ok {
			return Work{}, fmt.Errorf("unknown selector %q", p.Selector.Kind)
		}
		if w.NewSelector, err = b(p.Selector.Args, global); err != nil {
			return Work{}, fmt.Errorf("%s: %w", p.Selector.Kind, err)
		}
	}
	h := sha256.New()
	json.NewEncoder(h).Encode(struct {
		Ops      []rows.Spec
		Selector *rows.Spec
		SkipBad  bool
		Global   json.RawMessage
	}{p.Ops, p.Selector, p.Policy.SkipBad, global})
	w.Fingerprint = hex.EncodeToString(h.Sum(nil))
	return w, nil
}

// SelectorBuilder makes a per-task Selector factory from its JSON arguments
// and the run-wide global data.
type SelectorBuilder func(args, global json.RawMessage) (func(Task) (Selector, error), error)

var (
	regMu     sync.RWMutex
	selectors = map[string]SelectorBuilder{}
)

// RegisterSelector makes a selector kind available to plans.
func RegisterSelector(kind string, b SelectorBuilder) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := selectors[kind]; dup {
		panic("shardmap: selector registered twice: " + kind)
	}
	selectors[kind] = b
}

// SelectorKinds lists the registered selectors.
func SelectorKinds() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	var ks []string
	for k := range selectors {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
