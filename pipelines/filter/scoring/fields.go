package scoring

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/bytedance/sonic/ast"
	"github.com/itchyny/gojq"
	"github.com/tidwall/sjson"

	"github.com/winnowlabs/winnow/transforms/rows"
)

// plainPath matches jq expressions that are plain field paths (.text,
// .metadata.id), which are read straight from the row's JSON text.
var plainPath = regexp.MustCompile(`^(\.[A-Za-z_][A-Za-z0-9_]*)+$`)

// fieldName matches a --field value: dot-separated names.
var fieldName = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// CheckField validates a --field value such as "metadata.edu".
func CheckField(field string) error {
	if !fieldName.MatchString(field) {
		return fmt.Errorf("score field %q: want dot-separated names of letters, digits, '-' and '_' (e.g. metadata.edu)", field)
	}
	return nil
}

// getter reads one value of a row: straight from its JSON text when the
// expression is a plain field path (the rest of the row is skipped, not
// decoded), with jq otherwise.
type getter struct {
	expr *rows.Expr
	path []any // the keys of a plain path; nil for jq
}

func newGetter(src string) (*getter, error) {
	e, err := rows.Compile(src)
	if err != nil {
		return nil, err
	}
	g := &getter{expr: e}
	if plainPath.MatchString(e.String()) {
		g.path = splitPath(e.String()[1:])
	}
	return g, nil
}

// text returns the string the expression selects; r must be valid JSON.
// A plain path's text is read in place: it aliases the row, or buf when it
// holds escapes, so it is only valid until the row or buf change.
func (g *getter) text(r *rows.Row, buf *[]byte) (string, error) {
	if g.path == nil {
		obj, err := r.Object()
		if err != nil {
			return "", err
		}
		return rows.TextOf(g.expr, obj)
	}
	v, err := lookup(r.Raw(), g.path)
	if err != nil {
		return "", err
	}
	switch k := kind(v); k {
	case "string":
		return unquote(v[1:len(v)-1], buf), nil
	case "":
		return "", rows.MissingField(g.expr, g.expr.String(), "")
	case "null":
		return "", rows.BadRowf("text %s is null, want a string", g.expr)
	default:
		return "", rows.BadRowf("text expression %s gave a %s, want a string", g.expr, k)
	}
}

// raw returns the selected value as JSON text (for ids); r must be valid.
func (g *getter) raw(r *rows.Row) ([]byte, error) {
	if g.path == nil {
		obj, err := r.Object()
		if err != nil {
			return nil, err
		}
		v, ok, err := g.expr.One(obj)
		if err != nil {
			return nil, err
		}
		if !ok || v == nil {
			return nil, rows.BadRowf("%s produced no value", g.expr)
		}
		return gojq.Marshal(v)
	}
	v, err := lookup(r.Raw(), g.path)
	if err != nil {
		return nil, err
	}
	switch kind(v) {
	case "":
		return nil, rows.MissingField(g.expr, g.expr.String(), "")
	case "null":
		return nil, rows.BadRowf("%s is null", g.expr)
	}
	return []byte(v), nil
}

// splitPath splits a dotted field path into the keys lookup takes.
func splitPath(field string) []any {
	var path []any
	for _, k := range strings.Split(field, ".") {
		path = append(path, k)
	}
	return path
}

func joinPath(path []any) string {
	parts := make([]string, len(path))
	for i, k := range path {
		parts[i] = k.(string)
	}
	return strings.Join(parts, ".")
}

// lookup returns the JSON text of the value at path (object keys) in raw,
// a valid JSON object, or "" when there is none. The text aliases raw.
// The other values are skipped over (sonic's searcher), not decoded.
func lookup(raw []byte, path []any) (string, error) {
	s := ast.NewSearcher(aliasString(raw))
	s.ValidateJSON = false // rows are validated before they are read
	n, err := s.GetByPath(path...)
	if err == ast.ErrNotExist {
		return "", nil
	}
	if err == nil {
		var v string
		if v, err = n.Raw(); err == nil {
			return v, nil
		}
	}
	return "", rows.BadRowf("malformed JSON: %v", err)
}

// kind names the JSON type of a value's text ("" for no value).
func kind(v string) string {
	if v == "" {
		return ""
	}
	switch v[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 'n':
		return "null"
	case 't', 'f':
		return "boolean"
	}
	return "number"
}

// aliasString views b as a string without copying it, so that looked-up
// values (a text without escapes, a field's JSON) point into the row
// instead of being copied for every row. The string must not outlive b's
// contents: values are used while the row is processed, never kept.
func aliasString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// setField returns raw with value (JSON text) stored at field, creating
// missing parent objects; a parent that exists but is not an object makes
// the row bad. The usual case, a field that does not exist yet, is an
// insertion into its deepest existing parent, found with lookup; an
// existing field is replaced by sjson.
func setField(raw []byte, field []any, value []byte) ([]byte, error) {
	parent, depth := strings.TrimSpace(aliasString(raw)), 0 // the deepest existing parent
	for ; depth < len(field)-1; depth++ {
		v, err := lookup(raw, field[:depth+1])
		if err != nil {
			return nil, err
		}
		if v == "" {
			break
		}
		if k := kind(v); k != "object" {
			return nil, rows.BadRowf("field %s is a %s, so it cannot hold the scores (choose another score field)", joinPath(field[:depth+1]), k)
		}
		parent = v
	}
	if depth == len(field)-1 {
		if v, err := lookup(raw, field); err != nil {
			return nil, err
		} else if v != "" {
			out, err := sjson.SetRawBytes(raw, joinPath(field), value)
			if err != nil {
				return nil, fmt.Errorf("set %s: %w", joinPath(field), err)
			}
			return out, nil
		}
	}
	// parent aliases raw: insert the missing keys before its closing brace.
	end := int(uintptr(unsafe.Pointer(unsafe.StringData(parent)))-uintptr(unsafe.Pointer(unsafe.SliceData(raw)))) + len(parent) - 1
	out := make([]byte, 0, len(raw)+len(value)+32)
	out = append(out, raw[:end]...)
	if strings.TrimSpace(parent[1:len(parent)-1]) != "" {
		out = append(out, ',')
	}
	for i, k := range field[depth:] {
		if i > 0 {
			out = append(out, '{')
		}
		out = append(out, '"')
		out = append(out, k.(string)...)
		out = append(out, `":`...)
	}
	out = append(out, value...)
	for range field[depth+1:] {
		out = append(out, '}')
	}
	return append(out, raw[end:]...), nil
}

// unquote decodes the body of a valid JSON string as encoding/json does
// (an unpaired surrogate becomes U+FFFD). Without escapes it returns s
// itself; otherwise it decodes into *buf, reusing its memory, and returns
// a view of it.
func unquote(s string, buf *[]byte) string {
	i := strings.IndexByte(s, '\\')
	if i < 0 {
		return s
	}
	b := append((*buf)[:0], s[:i]...)
	for i < len(s) {
		j := strings.IndexByte(s[i:], '\\')
		if j < 0 {
			b = append(b, s[i:]...)
			break
		}
		b = append(b, s[i:i+j]...)
		i += j + 1
		switch c := s[i]; c {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(s[i+1:])
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					r2 = hex4(s[i+3:])
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
		default: // '"', '\\', '/'
			b = append(b, c)
		}
		i++
	}
	*buf = b
	return aliasString(b)
}

// hex4 decodes the four hex digits starting s.
func hex4(s string) rune {
	var r rune
	for _, c := range []byte(s[:4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
