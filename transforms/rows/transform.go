package rows

import (
	"encoding/json"
	"fmt"
)

// Default bonepick transforms: keep the text and the score.
const (
	DefaultTextTransform  = "{text: .text}"
	DefaultLabelTransform = "{score: .score}"
)

// TransformArgs configures the "transform" op.
type TransformArgs struct {
	// TextTransform and LabelTransform follow bonepick: each maps the row to
	// an object and the output row is their merge (label keys win).
	TextTransform  string `json:"text_transform,omitempty"`
	LabelTransform string `json:"label_transform,omitempty"`
	// Expression, when set, instead maps the whole row to its replacement;
	// no output drops the row.
	Expression string `json:"expression,omitempty"`
}

// Validate checks the arguments and compiles every expression, so a typo is
// reported before any data is read.
func (a TransformArgs) Validate() error {
	_, err := NewTransform(a)
	return err
}

// NewTransform compiles a transform op.
func NewTransform(a TransformArgs) (Op, error) {
	if a.Expression != "" {
		if a.TextTransform != "" || a.LabelTransform != "" {
			return nil, fmt.Errorf("a row expression replaces the whole row; do not combine it with a text or label transform")
		}
		e, err := Compile(a.Expression)
		if err != nil {
			return nil, err
		}
		return &reshape{expr: e}, nil
	}
	if a.TextTransform == "" {
		a.TextTransform = DefaultTextTransform
	}
	if a.LabelTransform == "" {
		a.LabelTransform = DefaultLabelTransform
	}
	t, err := Compile(a.TextTransform)
	if err != nil {
		return nil, err
	}
	l, err := Compile(a.LabelTransform)
	if err != nil {
		return nil, err
	}
	return &merge{text: t, label: l}, nil
}

type reshape struct{ expr *Expr }

func (o *reshape) Apply(r *Row) (bool, error) {
	obj, err := r.Object()
	if err != nil {
		return false, err
	}
	out, ok, err := o.expr.One(obj)
	if err != nil || !ok {
		return false, err
	}
	m, isObj := out.(map[string]any)
	if !isObj {
		return false, BadRowf("expression %s gave a %s, want an object (or no output to drop the row)", o.expr, typeName(out))
	}
	r.Set(m)
	return true, nil
}

type merge struct{ text, label *Expr }

func (o *merge) Apply(r *Row) (bool, error) {
	obj, err := r.Object()
	if err != nil {
		return false, err
	}
	out := map[string]any{}
	for _, e := range []*Expr{o.text, o.label} {
		v, ok, err := e.One(obj)
		if err != nil {
			return false, err
		}
		if !ok {
			return false, BadRowf("transform %s produced no value", e)
		}
		m, isObj := v.(map[string]any)
		if !isObj {
			return false, BadRowf("transform %s gave a %s, want an object", e, typeName(v))
		}
		for k, x := range m {
			out[k] = x
		}
	}
	r.Set(out)
	return true, nil
}

func init() {
	Register("transform", func(args, _ json.RawMessage) (Op, error) {
		var a TransformArgs
		if err := json.Unmarshal(args, &a); err != nil {
			return nil, fmt.Errorf("decode arguments: %w", err)
		}
		return NewTransform(a)
	})
}
