package rows

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/itchyny/gojq"
)

// Default expressions selecting a row's text and label.
const (
	DefaultTextExpression  = ".text"
	DefaultLabelExpression = ".score"
)

// FieldExpression returns the jq expression for a field name given with
// -t/--text-field or -l/--label-field ("scores.score" → .scores.score), or
// expr when field is empty.
func FieldExpression(field, expr string) string {
	if field == "" {
		return expr
	}
	if field[0] == '.' {
		return field
	}
	return "." + field
}

// TextOf evaluates e on obj and returns the text, which must be a string.
func TextOf(e *Expr, obj map[string]any) (string, error) {
	v, ok, err := e.One(obj)
	if err != nil {
		return "", err
	}
	switch t := v.(type) {
	case string:
		return t, nil
	case nil:
		if !ok {
			return "", BadRowf("text expression %s produced no value", e)
		}
		return "", BadRowf("text %s is null, want a string", e)
	}
	return "", BadRowf("text expression %s gave a %s, want a string", e, typeName(v))
}

// LabelOf evaluates e on obj and returns the label as text: strings as they
// are, numbers as written in the input, booleans as true/false.
func LabelOf(e *Expr, obj map[string]any) (string, error) {
	v, ok, err := e.One(obj)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", BadRowf("label expression %s produced no value", e)
	}
	s, err := ScalarString(v)
	if err != nil {
		return "", BadRowf("label %s: %v", e, err)
	}
	return s, nil
}

// ScalarString renders a JSON scalar as label text.
func ScalarString(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case json.Number:
		return t.String(), nil
	case bool:
		return strconv.FormatBool(t), nil
	case int:
		return strconv.Itoa(t), nil
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64), nil
	case nil:
		return "", fmt.Errorf("is null")
	}
	b, err := gojq.Marshal(v)
	if err != nil {
		return "", err
	}
	return "", fmt.Errorf("is %s %s, want a string, number or boolean", typeName(v), b)
}
