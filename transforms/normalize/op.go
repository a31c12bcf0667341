package normalize

import (
	"encoding/json"
	"fmt"

	"github.com/winnowlabs/winnow/transforms/rows"
)

// FromSpec builds the normalizer m describes and checks that it is the
// one described: a worker whose code has another version of it, or a
// tokenizer file whose contents changed, is refused rather than silently
// producing different text. An empty Version or TokenizerHash is not checked.
func FromSpec(m Spec) (Normalizer, error) {
	n, err := New(m.Name, Options{Tokenizer: m.Tokenizer})
	if err != nil {
		return nil, err
	}
	got := Describe(n)
	if m.Version != "" && got.Version != m.Version {
		return nil, fmt.Errorf("normalizer %s is version %s in this build, not %s as planned", m.Name, got.Version, m.Version)
	}
	if m.TokenizerHash != "" && got.TokenizerHash != m.TokenizerHash {
		return nil, fmt.Errorf("normalizer %s: tokenizer %s has SHA-256 %s, not %s as planned", m.Name, m.Tokenizer, got.TokenizerHash, m.TokenizerHash)
	}
	return n, nil
}

// OpArgs configures the "normalize" row op, which normalizes a row's text
// with a normalizer and its label with Label, keeping every other field.
//
// A value selected by a plain field path (.text, .scores.score) is written
// back to that field. A value selected by any other jq expression
// ('.title + " " + .body') is written to the default field, "text" or
// "score", so that later steps find it with the default expressions.
//
// A string label is replaced by its Label; a number or boolean label is kept
// as it is, with its JSON type (its text is already a normalized label). A
// missing or null text or label, a label that is an object or an array, and
// a string label that normalizes to "" are bad rows.
type OpArgs struct {
	TextExpression  string `json:"text_expression"`
	LabelExpression string `json:"label_expression"`
	Normalizer      Spec   `json:"normalizer"`
}

// NewOp compiles a "normalize" op.
func NewOp(a OpArgs) (rows.Op, error) {
	text, err := rows.Compile(a.TextExpression)
	if err != nil {
		return nil, fmt.Errorf("text expression: %w", err)
	}
	label, err := rows.Compile(a.LabelExpression)
	if err != nil {
		return nil, fmt.Errorf("label expression: %w", err)
	}
	n, err := FromSpec(a.Normalizer)
	if err != nil {
		return nil, err
	}
	return &normalizeOp{
		n: n, text: text, label: label,
		textPath:  destination(text, rows.DefaultTextExpression),
		labelPath: destination(label, rows.DefaultLabelExpression),
	}, nil
}

// destination is where a value selected by e is written.
func destination(e *rows.Expr, def string) []string {
	if p := e.FieldPath(); p != nil {
		return p
	}
	return rows.MustCompile(def).FieldPath()
}

type normalizeOp struct {
	n                   Normalizer
	text, label         *rows.Expr
	textPath, labelPath []string
}

func (o *normalizeOp) Apply(r *rows.Row) (bool, error) {
	obj, err := r.Object()
	if err != nil {
		return false, err
	}
	text, err := rows.TextOf(o.text, obj)
	if err != nil {
		return false, err
	}
	label, err := o.labelOf(obj)
	if err != nil {
		return false, err
	}
	setPath(obj, o.textPath, o.n.Normalize(text))
	setPath(obj, o.labelPath, label)
	r.Set(obj)
	return true, nil
}

func (o *normalizeOp) labelOf(obj map[string]any) (any, error) {
	v, ok, err := o.label.One(obj)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, rows.BadRowf("label expression %s produced no value", o.label)
	}
	if s, isString := v.(string); isString {
		l := Label(s)
		if l == "" {
			return nil, rows.BadRowf("label %s is %q, which is empty as a label", o.label, s)
		}
		return l, nil
	}
	if _, err := rows.ScalarString(v); err != nil {
		return nil, rows.BadRowf("label %s: %v", o.label, err)
	}
	return v, nil
}

// setPath stores v at path in obj, creating objects on the way.
func setPath(obj map[string]any, path []string, v any) {
	m := obj
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

func init() {
	rows.Register("normalize", func(args, _ json.RawMessage) (rows.Op, error) {
		var a OpArgs
		if err := json.Unmarshal(args, &a); err != nil {
			return nil, fmt.Errorf("decode arguments: %w", err)
		}
		return NewOp(a)
	})
}
