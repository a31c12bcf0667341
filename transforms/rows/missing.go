package rows

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/itchyny/gojq"
)

// A missing field is not a null one. jq reads an absent key as null, so
// `{score: .score}` on a row without "score" would silently write
// "score": null. winnow's expressions instead fail on a field the row does
// not have (a bad row, reported with its file and line): every plain field
// access (.a, ."a", .["a"], {a} shorthand, $x.a) is rewritten into a call
// that raises "missing field .a" where jq would give null for an absent key
// or for indexing null: getField, a Go function, in the expression's body,
// and _winnow_field, its jq twin, in the bodies of the expression's own
// function definitions (which a path(...) may call: only a jq function
// keeps track of paths). An expression that means to
// accept a missing field says so with jq's own tools: a default
// (`.a // null`, `.a // 0`: the left side of // keeps jq's meaning), `.a?`,
// `try .a`, `has("a")`, `getpath(["a"])`. Paths that name what to change
// rather than what to read (the left side of =, |=, += ..., //=, and the
// arguments of path, paths, del, pick) keep jq's meaning too.

// missingFieldDef reads field $k of its input like .[$k], but errors when
// the input is null or an object without $k; $p is the path written in the
// expression, for the message. It is getField as a jq function, which
// remains a path expression.
const missingFieldDef = `def _winnow_field($k; $p):
  if type == "object" then (if has($k) then .[$k] else error("missing field " + $p) end)
  elif type == "null" then error("missing field " + $p + " (its parent is null)")
  else .[$k] end;`

var missingFieldFuncs = func() []*gojq.FuncDef {
	q, err := gojq.Parse(missingFieldDef + " .")
	if err != nil {
		panic(err)
	}
	return q.FuncDefs
}()

// pathFuncs take path expressions as arguments.
var pathFuncs = map[string]bool{"path": true, "paths": true, "del": true, "pick": true}

// getFieldName is the Go function reading a field (see getField).
const getFieldName = "_winnow_get"

// MissingFieldError is the error of reading a field a row does not have.
type MissingFieldError struct {
	// Path is the field as the expression writes it, e.g. .scores.score.
	Path string
	// NullParent is set when the field's parent is null.
	NullParent bool
}

func (e *MissingFieldError) Error() string {
	if e.NullParent {
		return "missing field " + e.Path + " (its parent is null)"
	}
	return "missing field " + e.Path
}

// getField is _winnow_field in Go: args are the key and the path as
// written.
func getField(v any, args []any) any {
	k, _ := args[0].(string)
	p, _ := args[1].(string)
	switch m := v.(type) {
	case map[string]any:
		if x, ok := m[k]; ok {
			return x
		}
		return &MissingFieldError{Path: p}
	case nil:
		return &MissingFieldError{Path: p, NullParent: true}
	}
	return fmt.Errorf("cannot index %s with %q", typeName(v), k)
}

// requireFields rewrites q in place so that reading a missing field fails;
// the compiled query needs getField as the function getFieldName.
func requireFields(q *gojq.Query) {
	if q == nil {
		return
	}
	q.FuncDefs = slices.Concat(missingFieldFuncs, q.FuncDefs)
	rewriteQuery(q, getFieldName)
}

// rewriteQuery rewrites q's field reads into calls of fn, and those in the
// bodies of q's function definitions into calls of the jq function.
func rewriteQuery(q *gojq.Query, fn string) {
	if q == nil {
		return
	}
	for _, fd := range q.FuncDefs {
		if fd.Name != "_winnow_field" {
			rewriteQuery(fd.Body, "_winnow_field")
		}
	}
	if q.Term != nil {
		q.Term = rewriteTerm(q.Term, fn)
		return
	}
	switch q.Op {
	case gojq.OpAssign, gojq.OpModify, gojq.OpUpdateAdd, gojq.OpUpdateSub, gojq.OpUpdateMul,
		gojq.OpUpdateDiv, gojq.OpUpdateMod, gojq.OpUpdateAlt:
		// The left side names the paths to update.
	case gojq.OpAlt:
		// a // b: b is the default for a missing or null a.
	default:
		rewriteQuery(q.Left, fn)
	}
	rewriteQuery(q.Right, fn)
}

// rewriteTerm rewrites the queries inside t, then t's own field accesses.
func rewriteTerm(t *gojq.Term, fn string) *gojq.Term {
	if t == nil {
		return nil
	}
	rewriteInside(t, fn)
	// A trailing ? tolerates whatever fails before it: those accesses
	// keep jq's meaning (null for an absent key).
	lastOpt := -1
	for i, s := range t.SuffixList {
		if s.Optional {
			lastOpt = i
		}
	}
	suffixes := t.SuffixList
	cur := t
	prefix := ""
	if name, ok := fieldName(t.Index); ok && t.Type == gojq.TermTypeIndex && lastOpt < 0 {
		prefix = "." + quoteKey(name)
		cur = fieldCall(fn, &gojq.Term{Type: gojq.TermTypeIdentity}, name, prefix)
	} else {
		base := *t
		base.SuffixList = nil
		if base.Type != gojq.TermTypeIdentity {
			prefix = base.String()
		}
		cur = &base
	}
	for i, s := range suffixes {
		if name, ok := fieldName(s.Index); ok && i > lastOpt {
			prefix += "." + quoteKey(name)
			cur = fieldCall(fn, cur, name, prefix)
			continue
		}
		prefix += s.String()
		cur.SuffixList = append(cur.SuffixList, s)
	}
	return cur
}

// fieldName returns the key of a plain field index (.a, ."a", .["a"]).
func fieldName(x *gojq.Index) (string, bool) {
	switch {
	case x == nil || x.IsSlice || x.End != nil:
		return "", false
	case x.Name != "":
		return x.Name, true
	case x.Str != nil && x.Str.Queries == nil:
		return x.Str.Str, true
	case x.Start != nil && x.Start.Term != nil && x.Start.Term.Type == gojq.TermTypeString &&
		x.Start.Term.Str.Queries == nil && len(x.Start.Term.SuffixList) == 0:
		return x.Start.Term.Str.Str, true
	}
	return "", false
}

// fieldCall returns the term `(from | fn(name; path))`, or just the call
// when from is the identity.
func fieldCall(fn string, from *gojq.Term, name, path string) *gojq.Term {
	call := &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: fn, Args: []*gojq.Query{
		stringQuery(name), stringQuery(path),
	}}}
	if from.Type == gojq.TermTypeIdentity && len(from.SuffixList) == 0 {
		return call
	}
	return &gojq.Term{Type: gojq.TermTypeQuery, Query: &gojq.Query{
		Op: gojq.OpPipe, Left: &gojq.Query{Term: from}, Right: &gojq.Query{Term: call},
	}}
}

func stringQuery(s string) *gojq.Query {
	return &gojq.Query{Term: &gojq.Term{Type: gojq.TermTypeString, Str: &gojq.String{Str: s}}}
}

// rewriteInside rewrites the queries nested in t.
func rewriteInside(t *gojq.Term, fn string) {
	query := func(q *gojq.Query) { rewriteQuery(q, fn) }
	queries := func(qs []*gojq.Query) {
		for _, q := range qs {
			rewriteQuery(q, fn)
		}
	}
	index := func(x *gojq.Index) {
		if x != nil {
			query(x.Start)
			query(x.End)
			if x.Str != nil {
				queries(x.Str.Queries)
			}
		}
	}
	index(t.Index)
	for _, s := range t.SuffixList {
		index(s.Index)
	}
	switch t.Type {
	case gojq.TermTypeFunc:
		if !pathFuncs[t.Func.Name] {
			queries(t.Func.Args)
		}
	case gojq.TermTypeObject:
		for _, kv := range t.Object.KeyVals {
			if kv.Val == nil && kv.KeyQuery == nil && (kv.Key != "" && kv.Key[0] != '$' ||
				kv.KeyString != nil && kv.KeyString.Queries == nil) {
				// {a} and {"a"} read .a.
				key := kv.Key
				if key == "" {
					key = kv.KeyString.Str
				}
				kv.Val = &gojq.Query{Term: fieldCall(fn, &gojq.Term{Type: gojq.TermTypeIdentity}, key, "."+quoteKey(key))}
				continue
			}
			query(kv.KeyQuery)
			query(kv.Val)
			if kv.KeyString != nil {
				queries(kv.KeyString.Queries)
			}
		}
	case gojq.TermTypeArray:
		query(t.Array.Query)
	case gojq.TermTypeUnary:
		t.Unary.Term = rewriteTerm(t.Unary.Term, fn)
	case gojq.TermTypeFormat, gojq.TermTypeString:
		if t.Str != nil {
			queries(t.Str.Queries)
		}
	case gojq.TermTypeIf:
		query(t.If.Cond)
		query(t.If.Then)
		for _, e := range t.If.Elif {
			query(e.Cond)
			query(e.Then)
		}
		query(t.If.Else)
	case gojq.TermTypeTry:
		query(t.Try.Body)
		query(t.Try.Catch)
	case gojq.TermTypeReduce:
		query(t.Reduce.Query)
		query(t.Reduce.Start)
		query(t.Reduce.Update)
	case gojq.TermTypeForeach:
		query(t.Foreach.Query)
		query(t.Foreach.Start)
		query(t.Foreach.Update)
		query(t.Foreach.Extract)
	case gojq.TermTypeLabel:
		query(t.Label.Body)
	case gojq.TermTypeQuery:
		query(t.Query)
	}
}

// quoteKey writes a key as jq would after a dot.
func quoteKey(k string) string {
	if fieldPath.MatchString("." + k) {
		return k
	}
	return strconv.Quote(k)
}
