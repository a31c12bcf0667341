package rows

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/itchyny/gojq"
)

// Expr is a jq expression compiled once. Reading a field the row does not
// have is an error (see requireFields), and an expression may not read the
// process environment ($ENV, env): it would make rows depend on the
// machine that processes them.
type Expr struct {
	src  string
	code *gojq.Code
	// path is set for plain field paths such as .text or .scores.score,
	// which are evaluated without the interpreter.
	path []string
}

var fieldPath = regexp.MustCompile(`^(\.[A-Za-z_][A-Za-z0-9_]*)+$`)

// Compile parses and compiles src.
func Compile(src string) (*Expr, error) {
	src = strings.TrimSpace(src)
	if src == "" {
		return nil, fmt.Errorf("empty jq expression")
	}
	q, err := gojq.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("jq expression %q: %w", src, err)
	}
	requireFields(q)
	// The compiler asks for the environment exactly where the expression
	// reads $ENV or env (and no definition of its own shadows them).
	readsEnv := false
	code, err := gojq.Compile(q,
		gojq.WithEnvironLoader(func() []string { readsEnv = true; return nil }),
		gojq.WithFunction(getFieldName, 2, 2, getField))
	if err != nil {
		return nil, fmt.Errorf("jq expression %q: %w", src, err)
	}
	if readsEnv {
		return nil, fmt.Errorf("jq expression %q reads the environment ($ENV or env), which winnow does not pass to expressions: rows must not depend on the machine that processes them", src)
	}
	e := &Expr{src: src, code: code}
	if fieldPath.MatchString(src) {
		e.path = strings.Split(src[1:], ".")
	}
	return e, nil
}

// MustCompile is Compile for expressions known to be valid.
func MustCompile(src string) *Expr {
	e, err := Compile(src)
	if err != nil {
		panic(err)
	}
	return e
}

// String returns the expression's source.
func (e *Expr) String() string { return e.src }

// FieldPath returns the object keys of a plain field path (".scores.score"
// gives ["scores", "score"]), or nil for any other expression.
func (e *Expr) FieldPath() []string { return e.path }

// Eval returns every output of the expression on v. A jq runtime error is a
// BadRowError naming the expression.
func (e *Expr) Eval(v any) ([]any, error) {
	if e.path != nil {
		out, err := e.lookup(v)
		if err != nil {
			return nil, err
		}
		return []any{out}, nil
	}
	var outs []any
	iter := e.code.Run(v)
	for {
		out, ok := iter.Next()
		if !ok {
			return outs, nil
		}
		if err, ok := out.(error); ok {
			var halt *gojq.HaltError
			if errors.As(err, &halt) && halt.Value() == nil {
				return outs, nil // halt: stop without error
			}
			var mf *MissingFieldError
			if errors.As(err, &mf) {
				return nil, missing(e, mf.Error())
			}
			var ve gojq.ValueError // raised by the jq function _winnow_field
			if errors.As(err, &ve) {
				if msg, ok := ve.Value().(string); ok && strings.HasPrefix(msg, "missing field ") {
					return nil, missing(e, msg)
				}
			}
			return nil, BadRowf("jq %s: %v", e.src, err)
		}
		outs = append(outs, out)
	}
}

// One returns the single output of the expression on v; ok is false when it
// produced none. More than one output is an error.
func (e *Expr) One(v any) (out any, ok bool, err error) {
	outs, err := e.Eval(v)
	if err != nil {
		return nil, false, err
	}
	switch len(outs) {
	case 0:
		return nil, false, nil
	case 1:
		return outs[0], true, nil
	}
	return nil, false, BadRowf("jq %s produced %d results, want one", e.src, len(outs))
}

// missing turns the error of a missing field into the bad row's reason.
func missing(e *Expr, msg string) error {
	field, note, _ := strings.Cut(strings.TrimPrefix(msg, "missing field "), " ")
	return MissingField(e, field, note)
}

// MissingField is the bad-row error of a row without the field (a path
// such as .scores.score) that e reads; note, when set, says more (e.g.
// "(its parent is null)").
func MissingField(e *Expr, field, note string) error {
	if note != "" {
		note = " " + note
	}
	return BadRowf("missing field %s%s, read by %s (where it may be absent, give a default: %s // null)", field, note, e.src, field)
}

func (e *Expr) lookup(v any) (any, error) {
	cur := v
	for i, k := range e.path {
		switch m := cur.(type) {
		case map[string]any:
			var ok bool
			if cur, ok = m[k]; !ok {
				return nil, MissingField(e, "."+strings.Join(e.path[:i+1], "."), "")
			}
		case nil:
			return nil, MissingField(e, "."+strings.Join(e.path[:i+1], "."), "(its parent is null)")
		default:
			return nil, BadRowf("jq %s: cannot index %s with %q", e.src, typeName(cur), strings.Join(e.path[:i+1], "."))
		}
	}
	return cur, nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "number"
}
