package parquetjson

import (
	"fmt"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

// nodeKind says how a compiled schema node is written.
type nodeKind uint8

const (
	kindLeaf  nodeKind = iota // a column value
	kindGroup                 // a struct: a JSON object with one key per field
	kindList                  // a LIST or a bare repeated field: a JSON array
	kindMap                   // a MAP: a JSON object of key/value entries
)

// node is one compiled schema node. Levels follow the Dremel encoding: a
// value whose definition level is below def means that this node, or one of
// its ancestors, is null (or an empty list or map).
type node struct {
	kind     nodeKind
	path     string // dotted physical path, for error messages
	key      []byte // the JSON object key with its colon, `"name":`
	optional bool   // the node may be null
	def      int    // definition level of a present (non-null) node
	col0     int    // first leaf column below the node
	colEnd   int    // one past the last leaf column below the node

	// kindGroup: the fields; kindList: [element]; kindMap: [key, value].
	children []*node
	// kindList, kindMap: the levels of the repeated layer. A first value
	// with definition level below repDef means the list or map is empty; a
	// value with repetition level rep starts another element. kindLeaf:
	// rep is the column's maximum repetition level.
	repDef int
	rep    int

	leaf leafEncoder // kindLeaf only
}

// compiler turns the flat, depth-first schema of a Parquet footer into a
// tree of nodes.
type compiler struct {
	elems []format.SchemaElement
	next  int // index of the next schema element to consume
	col   int // index of the next leaf column
}

// compileSchema compiles the schema of a file's footer. The root is a group.
func compileSchema(elems []format.SchemaElement) (*node, int, error) {
	if len(elems) == 0 {
		return nil, 0, fmt.Errorf("empty schema")
	}
	c := &compiler{elems: elems, next: 1}
	root := &node{kind: kindGroup, path: ""}
	n := numChildren(&elems[0])
	for range n {
		f, err := c.field("", 0, 0)
		if err != nil {
			return nil, 0, err
		}
		root.children = append(root.children, f)
	}
	if c.next != len(elems) {
		return nil, 0, fmt.Errorf("schema has %d elements, the root's tree uses %d", len(elems), c.next)
	}
	root.colEnd = c.col
	return root, c.col, nil
}

func numChildren(e *format.SchemaElement) int {
	if e.NumChildren.Valid {
		return int(e.NumChildren.V)
	}
	return 0
}

// take consumes the next schema element and the subtree below it, returning
// the element and its dotted path.
func (c *compiler) take(parent string) (*format.SchemaElement, string, error) {
	if c.next >= len(c.elems) {
		return nil, "", fmt.Errorf("schema ends inside group %q", parent)
	}
	e := &c.elems[c.next]
	c.next++
	if !utf8.ValidString(e.Name) {
		return nil, "", fmt.Errorf("field name %q under %q is not valid UTF-8", e.Name, parent)
	}
	path := e.Name
	if parent != "" {
		path = parent + "." + e.Name
	}
	return e, path, nil
}

// field compiles the next schema element as a field of a parent whose
// present values have definition level def and repetition level rep.
func (c *compiler) field(parent string, def, rep int) (*node, error) {
	e, path, err := c.take(parent)
	if err != nil {
		return nil, err
	}
	n, err := c.element(e, path, def, rep)
	if err != nil {
		return nil, err
	}
	n.key = appendString(nil, []byte(e.Name))
	n.key = append(n.key, ':')
	return n, nil
}

// element compiles an already consumed schema element.
func (c *compiler) element(e *format.SchemaElement, path string, def, rep int) (*node, error) {
	switch repetition(e) {
	case format.Optional:
		n, err := c.required(e, path, def+1, rep)
		if err != nil {
			return nil, err
		}
		n.optional = true
		return n, nil
	case format.Repeated:
		// A repeated field outside a LIST or MAP annotation is a list of
		// its required self.
		col0 := c.col
		elem, err := c.required(e, path, def+1, rep+1)
		if err != nil {
			return nil, err
		}
		return &node{
			kind: kindList, path: path, def: def,
			col0: col0, colEnd: c.col,
			children: []*node{elem}, repDef: def + 1, rep: rep + 1,
		}, nil
	default:
		return c.required(e, path, def, rep)
	}
}

func repetition(e *format.SchemaElement) format.FieldRepetitionType {
	if e.RepetitionType.Valid {
		return e.RepetitionType.V
	}
	return format.Required
}

// required compiles e as if it were required; def and rep are its levels.
func (c *compiler) required(e *format.SchemaElement, path string, def, rep int) (*node, error) {
	if e.Type.Valid {
		if numChildren(e) != 0 {
			return nil, fmt.Errorf("column %q: a leaf with children", path)
		}
		enc, err := leafEncoderOf(e)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", path, err)
		}
		n := &node{kind: kindLeaf, path: path, def: def, rep: rep, col0: c.col, colEnd: c.col + 1, leaf: enc}
		c.col++
		return n, nil
	}
	switch {
	case isList(e):
		if n, ok, err := c.list(e, path, def, rep); ok || err != nil {
			return n, err
		}
	case isMap(e):
		if n, ok, err := c.mapping(e, path, def, rep); ok || err != nil {
			return n, err
		}
	case e.LogicalType.Value != nil:
		if _, ok := e.LogicalType.Value.(*format.VariantType); ok {
			return nil, fmt.Errorf("column %q: the VARIANT logical type is not supported", path)
		}
	}
	return c.group(e, path, def, rep)
}

// group compiles the children of e as the fields of a JSON object.
func (c *compiler) group(e *format.SchemaElement, path string, def, rep int) (*node, error) {
	n := &node{kind: kindGroup, path: path, def: def, col0: c.col}
	for range numChildren(e) {
		f, err := c.field(path, def, rep)
		if err != nil {
			return nil, err
		}
		n.children = append(n.children, f)
	}
	n.colEnd = c.col
	return n, nil
}

func isList(e *format.SchemaElement) bool {
	if _, ok := e.LogicalType.Value.(*format.ListType); ok {
		return true
	}
	return e.LogicalType.Value == nil && e.ConvertedType.Valid && e.ConvertedType.V == deprecated.List
}

func isMap(e *format.SchemaElement) bool {
	if _, ok := e.LogicalType.Value.(*format.MapType); ok {
		return true
	}
	return e.LogicalType.Value == nil && e.ConvertedType.Valid &&
		(e.ConvertedType.V == deprecated.Map || e.ConvertedType.V == deprecated.MapKeyValue)
}

// peek returns the next schema element without consuming it.
func (c *compiler) peek() *format.SchemaElement {
	if c.next < len(c.elems) {
		return &c.elems[c.next]
	}
	return nil
}

// list compiles a LIST-annotated group, following the backward-compatibility
// rules of the Parquet LogicalTypes specification. ok is false (and nothing is
// consumed) when the group does not have a LIST layout; it is then read as a
// plain group.
func (c *compiler) list(e *format.SchemaElement, path string, def, rep int) (*node, bool, error) {
	r := c.peek()
	if numChildren(e) != 1 || r == nil || repetition(r) != format.Repeated {
		return nil, false, nil
	}
	c.next++
	rpath := path + "." + r.Name
	col0 := c.col
	var elem *node
	var err error
	switch {
	case r.Type.Valid:
		// repeated primitive: the element itself, required.
		elem, err = c.required(r, rpath, def+1, rep+1)
	case numChildren(r) == 1 && r.Name != "array" && r.Name != e.Name+"_tuple":
		// three-level list: the single child is the element.
		elem, err = c.field(rpath, def+1, rep+1)
	default:
		// two-level list whose repeated group is the element.
		elem, err = c.group(r, rpath, def+1, rep+1)
	}
	if err != nil {
		return nil, true, err
	}
	return &node{
		kind: kindList, path: path, def: def, col0: col0, colEnd: c.col,
		children: []*node{elem}, repDef: def + 1, rep: rep + 1,
	}, true, nil
}

// mapping compiles a MAP-annotated group: one repeated group of a required
// key and an optional value. ok is false (and nothing is consumed) when the
// group does not have that layout; it is then read as a plain group.
func (c *compiler) mapping(e *format.SchemaElement, path string, def, rep int) (*node, bool, error) {
	kv := c.peek()
	if numChildren(e) != 1 || kv == nil || kv.Type.Valid || repetition(kv) != format.Repeated || numChildren(kv) != 2 {
		return nil, false, nil
	}
	if c.next+1 >= len(c.elems) {
		return nil, false, nil
	}
	if k := &c.elems[c.next+1]; !k.Type.Valid || repetition(k) != format.Required {
		return nil, false, nil
	}
	c.next++
	kvpath := path + "." + kv.Name
	col0 := c.col
	key, err := c.field(kvpath, def+1, rep+1)
	if err != nil {
		return nil, true, err
	}
	value, err := c.field(kvpath, def+1, rep+1)
	if err != nil {
		return nil, true, err
	}
	return &node{
		kind: kindMap, path: path, def: def, col0: col0, colEnd: c.col,
		children: []*node{key, value}, repDef: def + 1, rep: rep + 1,
	}, true, nil
}

// leafPaths lists the dotted path of every leaf column in column order.
func leafPaths(root *node, paths []string) []string {
	if root.kind == kindLeaf {
		return append(paths, root.path)
	}
	for _, ch := range root.children {
		paths = leafPaths(ch, paths)
	}
	return paths
}

// leafLevels lists the maximum definition and repetition levels of every
// leaf column.
func leafLevels(root *node, levels [][2]int) [][2]int {
	if root.kind == kindLeaf {
		return append(levels, [2]int{root.def, root.rep})
	}
	for _, ch := range root.children {
		levels = leafLevels(ch, levels)
	}
	return levels
}
