package rows

import (
	"slices"
	"strconv"

	"github.com/itchyny/gojq"
)

// A missing field is not a null one. jq reads an absent key as null, so
// `{score: .score}` on a row without "score" would silently write
// "score": null. winnow's expressions instead fail on a field the row does
// not have (a bad row, reported with its file and line): every plain field
// access (.a, ."a", .["a"], {a} shorthand, $x.a) is rewritten into a call
// of missingField, which raises "missing field .a" where jq would give null
// for an absent key or for indexing null. An expression that means to
// accept a missing field says so with jq's own tools: a default
// (`.a // null`, `.a // 0`: the left side of // keeps jq's meaning), `.a?`,
// `try .a`, `has("a")`, `getpath(["a"])`. Paths that name what to change
// rather than what to read (the left side of =, |=, += ..., //=, and the
// arguments of path, paths, del, pick) keep jq's meaning too.

// missingFieldDef reads field $k of its input like .[$k], but errors when
// the input is null or an object without $k; $p is the path written in the
// expression, for the message. It is a jq function, so that it remains a
// path expression (for user functions used in path(...)).
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

// requireFields rewrites q in place so that reading a missing field fails.
func requireFields(q *gojq.Query) {
	if q == nil {
		return
	}
	q.FuncDefs = slices.Concat(missingFieldFuncs, q.FuncDefs)
	rewriteQuery(q)
}

func rewriteQuery(q *gojq.Query) {
	if q == nil {
		return
	}
	for _, fd := range q.FuncDefs {
		if fd.Name != "_winnow_field" {
			rewriteQuery(fd.Body)
		}
	}
	if q.Term != nil {
		q.Term = rewriteTerm(q.Term)
		return
	}
	switch q.Op {
	case gojq.OpAssign, gojq.OpModify, gojq.OpUpdateAdd, gojq.OpUpdateSub, gojq.OpUpdateMul,
		gojq.OpUpdateDiv, gojq.OpUpdateMod, gojq.OpUpdateAlt:
		// The left side names the paths to update.
	case gojq.OpAlt:
		// a // b: b is the default for a missing or null a.
	default:
		rewriteQuery(q.Left)
	}
	rewriteQuery(q.Right)
}

// rewriteTerm rewrites the queries inside t, then t's own field accesses.
func rewriteTerm(t *gojq.Term) *gojq.Term {
	if t == nil {
		return nil
	}
	rewriteInside(t)
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
		cur = fieldCall(&gojq.Term{Type: gojq.TermTypeIdentity}, name, prefix)
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
			cur = fieldCall(cur, name, prefix)
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

// fieldCall returns the term `(from | _winnow_field(name; path))`, or just
// the call when from is the identity.
func fieldCall(from *gojq.Term, name, path string) *gojq.Term {
	call := &gojq.Term{Type: gojq.TermTypeFunc, Func: &gojq.Func{Name: "_winnow_field", Args: []*gojq.Query{
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
func rewriteInside(t *gojq.Term) {
	index := func(x *gojq.Index) {
		if x != nil {
			rewriteQuery(x.Start)
			rewriteQuery(x.End)
			if x.Str != nil {
				rewriteQueries(x.Str.Queries)
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
			rewriteQueries(t.Func.Args)
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
				kv.Val = &gojq.Query{Term: fieldCall(&gojq.Term{Type: gojq.TermTypeIdentity}, key, "."+quoteKey(key))}
				continue
			}
			rewriteQuery(kv.KeyQuery)
			rewriteQuery(kv.Val)
			if kv.KeyString != nil {
				rewriteQueries(kv.KeyString.Queries)
			}
		}
	case gojq.TermTypeArray:
		rewriteQuery(t.Array.Query)
	case gojq.TermTypeUnary:
		t.Unary.Term = rewriteTerm(t.Unary.Term)
	case gojq.TermTypeFormat, gojq.TermTypeString:
		if t.Str != nil {
			rewriteQueries(t.Str.Queries)
		}
	case gojq.TermTypeIf:
		rewriteQuery(t.If.Cond)
		rewriteQuery(t.If.Then)
		for _, e := range t.If.Elif {
			rewriteQuery(e.Cond)
			rewriteQuery(e.Then)
		}
		rewriteQuery(t.If.Else)
	case gojq.TermTypeTry:
		rewriteQuery(t.Try.Body)
		rewriteQuery(t.Try.Catch)
	case gojq.TermTypeReduce:
		rewriteQuery(t.Reduce.Query)
		rewriteQuery(t.Reduce.Start)
		rewriteQuery(t.Reduce.Update)
	case gojq.TermTypeForeach:
		rewriteQuery(t.Foreach.Query)
		rewriteQuery(t.Foreach.Start)
		rewriteQuery(t.Foreach.Update)
		rewriteQuery(t.Foreach.Extract)
	case gojq.TermTypeLabel:
		rewriteQuery(t.Label.Body)
	case gojq.TermTypeQuery:
		rewriteQuery(t.Query)
	}
}

func rewriteQueries(qs []*gojq.Query) {
	for _, q := range qs {
		rewriteQuery(q)
	}
}

// quoteKey writes a key as jq would after a dot.
func quoteKey(k string) string {
	if fieldPath.MatchString("." + k) {
		return k
	}
	return strconv.Quote(k)
}
